"""Relative paths below a partner root, checked the same way by every transport.

Folder names come from the config and file names from partners' listings; both end
up joined to a real path on a disk or a server, so anything that could leave the
root is refused here, once, with a ``TransportError`` the engine already handles.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from filebridge.errors import TransportError
from filebridge.transports.base import safe_name

MAX_CLASH_SUFFIX = 1000


def split_relative(path: str, what: str = "path") -> tuple[str, ...]:
    """The components of ``path`` below the partner root (``""`` is the root itself).

    Empty and ``.`` components are dropped; an absolute path, ``..``, a backslash or
    NUL is refused.
    """
    if path.startswith("/") or "\x00" in path:
        raise TransportError(f"unsafe {what} {path!r}: must be relative to the partner root")
    parts = tuple(part for part in path.split("/") if part not in ("", "."))
    for part in parts:
        try:
            safe_name(part)
        except ValueError as exc:
            raise TransportError(f"unsafe {what} {path!r}: {exc}") from None
    return parts


def split_file(path: str) -> tuple[tuple[str, ...], str]:
    """``(("a", "b"), "c.xml")`` for ``a/b/c.xml``; a file path needs a file name."""
    parts = split_relative(path, "file path")
    if not parts:
        raise TransportError(f"unsafe file path {path!r}: no file name")
    return parts[:-1], parts[-1]


def checked_name(name: str) -> str:
    """A single file name, or ``TransportError`` (not ``ValueError``) if it is unsafe."""
    try:
        return safe_name(name)
    except ValueError as exc:
        raise TransportError(str(exc)) from None


def child_path(folder: str, name: str) -> str:
    """``folder/name``, or just ``name`` in the root."""
    return f"{folder}/{name}" if folder else name


def candidate_names(name: str) -> Iterator[str]:
    """``ACK_1.xml``, then ``ACK_1~2.xml``, ``ACK_1~3.xml``...: where a move lands when
    the name is taken. The extension stays last so the file still opens as what it is."""
    yield name
    stem, ext = posixpath.splitext(name)
    for number in range(2, MAX_CLASH_SUFFIX + 1):
        yield f"{stem}~{number}{ext}"
