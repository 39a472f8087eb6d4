"""Small SFTP steps shared by the transport's verbs: what is at a path, making folders,
and the write probe of ``filebridge check``.

Each helper takes a leased ``SFTPClient`` and lets connection failures through
untouched (the session turns those into ``PartnerUnreachable``); only the server's
own answers (no such file, permission denied) are interpreted here.
"""

from __future__ import annotations

import errno
import logging
import posixpath
import secrets
import stat
from enum import Enum

import paramiko

from filebridge.errors import RemoteFileMissing, TransportError
from filebridge.transports.base import REASON_SUFFIX
from filebridge.transports.sftp_session import channel_alive

log = logging.getLogger(__name__)

CHECK_PROBE_PREFIX = ".filebridge-check."


class Kind(Enum):
    MISSING = "missing"
    FOLDER = "folder"
    FILE = "file"


def kind_of(client: paramiko.SFTPClient, remote: str) -> Kind:
    """What is at ``remote``: nothing, a folder, or anything else (a file)."""
    try:
        attrs = client.stat(remote)
    except OSError as exc:
        if exc.errno == errno.ENOENT and channel_alive(client):
            return Kind.MISSING
        raise
    if attrs.st_mode is not None and stat.S_ISDIR(attrs.st_mode):
        return Kind.FOLDER
    return Kind.FILE


def is_present(client: paramiko.SFTPClient, remote: str) -> bool:
    return kind_of(client, remote) is not Kind.MISSING


def is_missing(client: paramiko.SFTPClient, exc: OSError) -> bool:
    """The server said "no such file" (and it was not the link dying)."""
    return exc.errno == errno.ENOENT and channel_alive(client)


def reason_of(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def make_folders(client: paramiko.SFTPClient, root: str,
                 parts: tuple[str, ...]) -> tuple[bool, str]:
    """``mkdir -p`` of ``parts`` below ``root`` (the root too, when it is missing):
    (True, "exists ..."/"created ...") or (False, why not)."""
    target = join(root, parts)
    found = kind_of(client, target)
    if found is Kind.FOLDER:
        return True, f"exists ({target})"
    if found is Kind.FILE:
        return False, f"{target} exists but is not a folder"
    for prefix in _prefixes(target):
        found = kind_of(client, prefix)
        if found is Kind.FOLDER:
            continue
        if found is Kind.FILE:
            return False, f"cannot create {target}: {prefix} is a file, not a folder"
        try:
            client.mkdir(prefix)
        except OSError as exc:
            if not channel_alive(client):
                raise
            if kind_of(client, prefix) is Kind.FOLDER:  # someone else made it meanwhile
                continue
            return False, f"cannot create {prefix}: {reason_of(exc)}"
    return True, f"created ({target})"


def _prefixes(path: str) -> list[str]:
    """``/a/b/c`` -> ``/a``, ``/a/b``, ``/a/b/c``; ``a/b`` -> ``a``, ``a/b``."""
    lead = "/" if path.startswith("/") else ""
    names = [name for name in path.split("/") if name not in ("", ".")]
    return [lead + "/".join(names[:depth]) for depth in range(1, len(names) + 1)]


def write_probe(client: paramiko.SFTPClient, folder: str) -> str:
    """Create, rename and remove a hidden temp file in ``folder``: the rights a drop needs."""
    probe = posixpath.join(folder, f"{CHECK_PROBE_PREFIX}{secrets.token_hex(6)}.part")
    renamed = probe + ".tmp"
    with client.open(probe, "wbx") as handle:
        handle.write(b"filebridge check\n")
    try:
        client.rename(probe, renamed)
    except BaseException:
        remove_quietly(client, probe)
        raise
    client.remove(renamed)
    return "write probe ok (created, renamed and removed a file)"


def rename_if_free(client: paramiko.SFTPClient, source: str, target: str) -> bool:
    """The common move in one round trip: the target folder exists and the name is free
    (OpenSSH's rename refuses a taken name). Any refusal: False, and the caller's
    careful path finds out why."""
    try:
        client.rename(source, target)
    except OSError:
        if not channel_alive(client):
            raise
        return False
    return True


def move_as(client: paramiko.SFTPClient, path: str, source: str, remote_target: str,
            target: str, reason: str | None) -> bool:
    """Move ``source`` to ``remote_target`` (``target`` as the partner sees it), the
    reason file first; False when the name is taken.

    In this order a crash can leave a reason without its file (harmless) but never a
    refused file without its reason.
    """
    remote_reason = remote_target + REASON_SUFFIX
    if is_present(client, remote_target) or is_present(client, remote_reason):
        return False
    if reason is not None:
        try:
            with client.open(remote_reason, "wbx") as handle:
                handle.write(reason.encode("utf-8"))
        except OSError:
            if channel_alive(client) and is_present(client, remote_reason):
                return False
            raise
    try:
        client.rename(source, remote_target)
    except OSError as exc:
        if not channel_alive(client):
            raise
        if reason is not None:
            remove_quietly(client, remote_reason)
        if is_present(client, remote_target):
            return False
        if not is_present(client, source):
            raise RemoteFileMissing(f"cannot move {path}: it is gone") from exc
        raise TransportError(f"cannot move {path} to {target}: {reason_of(exc)}") from exc
    return True


def remove_quietly(client: paramiko.SFTPClient, remote: str) -> None:
    """Best-effort cleanup of our own temp file; never masks the original error."""
    if not channel_alive(client):
        return
    try:
        client.remove(remote)
    except (OSError, EOFError, paramiko.SSHException):
        log.debug("could not remove %s", remote, exc_info=True)


def join(root: str, parts: tuple[str, ...]) -> str:
    """The server path of checked ``parts`` below the partner ``root``; a relative root
    (``.``) is the login folder."""
    relative = "/".join(parts)
    if root in ("", "."):
        return relative or "."
    return posixpath.join(root, relative) if relative else root
