"""The Transport port: the few folder verbs the engine needs, whatever sits below.

Paths are POSIX strings relative to the partner's root (``to_partner/orders/ORDER_1_1.xml``).
Implementations translate their library's errors into the ``TransportError`` tree at this
boundary: ``PartnerUnreachable`` when nothing can be reached (does not use up an order's
attempts), ``FileAlreadyExists`` when a final name is taken, ``RemoteFileMissing`` when a
file vanished, plain ``TransportError`` for anything else about one file.
"""

from __future__ import annotations

import builtins
import contextlib
import posixpath
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from filebridge.errors import PartnerUnreachable, TransportError

T = TypeVar("T")
R = TypeVar("R")

TEMP_SUFFIXES = (".part", ".tmp", ".filepart")
REASON_SUFFIX = ".reason.txt"


@dataclass(frozen=True)
class RemoteFile:
    """A file seen in a listing: where it is, how big, when last modified (epoch seconds)."""

    path: str
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)


@dataclass(frozen=True)
class FolderCheck:
    """One line of ``filebridge check``: what was checked, whether it passed, and detail."""

    name: str
    ok: bool
    detail: str


WakeCallback = Callable[[str, bool], None]
"""Called by a transport as ``wake(path, renamed)`` when a file arrives: ``renamed`` is True
when the file was renamed (moved) into place, so it is complete and may be read at once;
False for a file created or modified in place, which must still settle (size and mtime
stable for ``settle_time``) before it is read."""


def is_ignored_name(name: str) -> bool:
    """Temp names, dot files and our own reason files are never ingested."""
    return name.startswith(".") or name.endswith(TEMP_SUFFIXES) or name.endswith(REASON_SUFFIX)


def temp_name(name: str, token: str) -> str:
    """``<name>.<token>.part``: the temp name a file is written under before its rename.
    Every reader ignores ``.part`` files, so a half-written file is never picked up."""
    return f"{name}.{token}.part"


def safe_name(name: str) -> str:
    """Refuse a file name that could escape its folder; partner names are untrusted."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"unsafe file name {name!r}")
    return name


class Transport(ABC):
    """A partner's drop folders. One instance per partner; used by one engine thread."""

    @abstractmethod
    def stage(self, folder: str, name: str, token: str, data: bytes) -> str:
        """Write ``data`` completely and durably under ``temp_name(name, token)`` in
        ``folder`` (replacing a partial temp of the same token from an earlier try) and
        return the temp's path. The final name is not touched."""

    @abstractmethod
    def publish(self, folder: str, name: str, token: str) -> str:
        """Rename the staged temp to ``folder/name`` and return that path, never
        overwriting: ``FileAlreadyExists`` if the name is taken (the temp stays),
        ``RemoteFileMissing`` if the temp is not there."""

    def put_atomic(self, folder: str, name: str, data: bytes) -> str:
        """Write ``data`` under ``folder/name`` atomically (stage, then publish) and return
        its path. Raises ``FileAlreadyExists`` if the name is taken; the temp is removed
        on failure."""
        token = secrets.token_hex(8)
        self.stage(folder, name, token, data)
        try:
            return self.publish(folder, name, token)
        except BaseException:
            with contextlib.suppress(Exception):
                self.discard(folder, name, token)
            raise

    def discard(self, folder: str, name: str, token: str) -> None:  # noqa: B027
        """Remove a staged temp if it is there (best effort; a leftover is ignored by
        every reader anyway)."""

    def stage_many(self, folder: str, items: Sequence[tuple[str, str, bytes]]
                   ) -> builtins.list[str | TransportError]:
        """``stage`` each ``(name, token, data)``; one result (path or error) per item.
        Once the partner is unreachable the remaining items get that error untried.
        Transports with several channels override this to upload in parallel."""
        return each_item(items, lambda item: self.stage(folder, item[0], item[1], item[2]))

    def publish_many(self, folder: str, items: Sequence[tuple[str, str]]
                     ) -> builtins.list[str | TransportError]:
        """``publish`` each ``(name, token)``; one result (path or error) per item."""
        return each_item(items, lambda item: self.publish(folder, item[0], item[1]))

    def read_many(self, paths: Sequence[str], max_size: int
                  ) -> builtins.list[bytes | TransportError]:
        """``read`` each path; one result (bytes or error) per path, in order."""
        return each_item(paths, lambda path: self.read(path, max_size))

    def move_many(self, items: Sequence[tuple[str, str, str | None]]
                  ) -> builtins.list[str | TransportError]:
        """``move`` each ``(path, folder, reason)``; one result (new path or error) each."""
        return each_item(items, lambda item: self.move(item[0], item[1], item[2]))

    @abstractmethod
    def list(self, folder: str) -> builtins.list[RemoteFile]:
        """Every regular file directly in ``folder`` (temp and dot files included)."""

    @abstractmethod
    def read(self, path: str, max_size: int) -> bytes:
        """The whole file; raises ``TransportError`` if it is larger than ``max_size``."""

    @abstractmethod
    def move(self, path: str, folder: str, reason: str | None = None) -> str:
        """Move a file into ``folder`` (archive or error), writing ``<name>.reason.txt``
        beside it when a reason is given. A name clash gets a unique suffix, never an
        overwrite. Returns the new path."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete one file: housekeeping (``filebridge prune`` on the archive folder), never
        the exchange itself. A folder is refused; ``RemoteFileMissing`` if the file is not
        there."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the file is still there (pickup detection for instruction files)."""

    @abstractmethod
    def ensure_folders(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        """Create missing folders where allowed; report each folder's state."""

    def check(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        """Connect and check folders and permissions; ``filebridge check`` prints these."""
        return self.ensure_folders(folders)

    def watch(self, folders: Iterable[str], wake: WakeCallback) -> None:  # noqa: B027
        """Start telling ``wake`` about arrivals in ``folders``; polling transports do nothing.

        Handlers only call ``wake(path, renamed)``; the engine reads files on its own
        thread. Transports that cannot watch rely on the engine's periodic rescan.
        """

    @property
    def shares_our_clock(self) -> bool:
        """True when file mtimes come from this machine's clock (local folders), so an
        mtime older than ``settle_time`` already proves a file has settled. A remote
        server's clock may be off by more than that; there only two sightings do."""
        return False

    @property
    def watches(self) -> bool:
        """True when ``watch`` delivers events, so the engine may poll less often."""
        return False

    def close(self) -> None:  # noqa: B027
        """Release connections and watchers; safe to call twice."""


def each_item(items: Sequence[T], operation: Callable[[T], R]) -> list[R | TransportError]:
    """``operation`` on every item, one result or error each; once the partner is
    unreachable the remaining items get that error untried."""
    results: list[R | TransportError] = []
    for item in items:
        try:
            results.append(operation(item))
        except PartnerUnreachable as exc:
            results.extend([exc] * (len(items) - len(results)))
            break
        except TransportError as exc:
            results.append(exc)
    return results
