"""The SFTP transport: a partner's drop folders on the partner's own SSH server (paramiko).

Guarantees the port asks for, in SFTP terms:

* Atomic, never-overwriting upload in two steps the engine journals between: ``stage``
  writes ``<name>.<token>.part`` (pipelined writes) and checks its size with ``stat``;
  ``publish`` renames it with plain SFTP ``RENAME``, which OpenSSH refuses when the
  target exists (it links, then unlinks). A taken name becomes ``FileAlreadyExists``,
  a missing temp ``RemoteFileMissing``.
* Bulk verbs (``stage_many``, ``publish_many``, ``read_many``, ``move_many``) and
  listings run on the request pipeline (``sftp_pipeline``, ``sftp_jobs``): many files'
  requests in flight on each channel, spread over the channel pool (``sftp_bulk``).
  Only the common case runs there; anything else is redone one file at a time on the
  careful paramiko path below, which is the one place that words errors.
* Polling only (``watches`` is False): the engine rescans every ``poll_interval``; the
  listing carries size and mtime for its settle rule.
* Every operation has a deadline (``operation_timeout``) and a lost or hung connection
  becomes ``PartnerUnreachable``, which holds orders without using up their attempts.

Connection handling (reuse, rebuild with backoff, the channel pool) is in
``sftp_session``, host key checking in ``sftp_hostkeys``, folder steps in
``sftp_folders``.
"""

from __future__ import annotations

import logging
import posixpath
import stat
from collections.abc import Iterable, Sequence

import paramiko

from filebridge.clock import Clock
from filebridge.config import BridgeConfig, PartnerConfig
from filebridge.errors import (
    ConfigError,
    FileAlreadyExists,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.transports.base import (
    FolderCheck,
    RemoteFile,
    Transport,
    temp_name,
)
from filebridge.transports.paths import (
    candidate_names,
    checked_name,
    child_path,
    split_file,
    split_relative,
)
from filebridge.transports.sftp_bulk import BulkRunner
from filebridge.transports.sftp_folders import (
    Kind,
    is_missing,
    is_present,
    join,
    kind_of,
    make_folders,
    move_as,
    remove_quietly,
    rename_if_free,
    write_probe,
)
from filebridge.transports.sftp_jobs import (
    PIPELINED_UP_TO,
    list_job,
    read_job,
    rename_job,
    stage_job,
)
from filebridge.transports.sftp_login import SshSettings
from filebridge.transports.sftp_pipeline import Attrs, Fallback, Job, Pipeline
from filebridge.transports.sftp_session import SshSession, channel_alive, raw_channel

log = logging.getLogger(__name__)
PREFETCH_ABOVE = PIPELINED_UP_TO  # bytes; smaller files are read with plain requests

FolderChecks = list[FolderCheck]
"""Spelled once here: inside the class, ``list`` is the transport's own verb."""


class SftpTransport(Transport):
    """One partner's folders under ``root`` on its SFTP server."""

    def __init__(self, settings: SshSettings, root: str = "/", clock: Clock | None = None) -> None:
        self.settings = settings
        self.root = root
        self._session = SshSession(settings, clock)
        self._bulk = BulkRunner(self._session, settings.channels)

    def __repr__(self) -> str:
        return f"SftpTransport({self.settings.where}, root={self.root!r})"

    @classmethod
    def from_config(cls, partner: PartnerConfig, config: BridgeConfig,
                    clock: Clock | None = None) -> SftpTransport:
        """Build from a partner's config; key and known_hosts paths resolve like the rest.
        Nothing is read or connected yet: that happens on first use."""
        if partner.transport != "sftp" or not (partner.host and partner.username
                                               and partner.known_hosts):
            raise ConfigError(f"partners.{partner.name}: not a complete sftp partner")
        settings = SshSettings(
            partner=partner.name,
            host=partner.host,
            port=partner.port,
            username=partner.username,
            known_hosts=config.resolve_path(partner.known_hosts),
            key_file=config.resolve_path(partner.key_file) if partner.key_file else None,
            key_passphrase_env=partner.key_passphrase_env,
            password_env=partner.password_env,
            disabled_algorithms=partner.disabled_algorithms,
            connect_timeout=partner.connect_timeout.total_seconds(),
            operation_timeout=partner.operation_timeout.total_seconds(),
            channels=partner.connections,
        )
        return cls(settings, partner.root, clock)

    # -- outbound ---------------------------------------------------------------------

    def stage(self, folder: str, name: str, token: str, data: bytes) -> str:
        parts = split_relative(folder, "folder")
        temp = temp_name(checked_name(name), token)
        path = child_path("/".join(parts), temp)
        remote_temp = posixpath.join(join(self.root, parts), temp)

        def upload(client: paramiko.SFTPClient) -> str:
            try:
                handle = client.open(remote_temp, "wb")
            except OSError as exc:
                if not is_missing(client, exc):
                    raise
                self._make_folders(client, parts)
                handle = client.open(remote_temp, "wb")
            try:
                with handle:
                    handle.set_pipelined(True)
                    handle.write(data)
                    # asked on the open handle, the size travels with the write replies
                    written = handle.stat().st_size
                if written != len(data):
                    raise TransportError(
                        f"upload of {path} incomplete: {written} of {len(data)} bytes arrived")
            except BaseException:
                remove_quietly(client, remote_temp)
                raise
            return path

        return self._session.run(f"uploading {path}", upload)

    def publish(self, folder: str, name: str, token: str) -> str:
        parts = split_relative(folder, "folder")
        final = child_path("/".join(parts), checked_name(name))
        remote_folder = join(self.root, parts)
        remote_final = posixpath.join(remote_folder, name)
        remote_temp = posixpath.join(remote_folder, temp_name(name, token))

        def rename(client: paramiko.SFTPClient) -> str:
            try:
                client.rename(remote_temp, remote_final)  # OpenSSH refuses an existing target
            except OSError as exc:
                if not channel_alive(client):
                    raise
                if is_present(client, remote_final):
                    raise FileAlreadyExists(
                        f"{final} already exists; filebridge never overwrites") from exc
                if not is_present(client, remote_temp):
                    raise RemoteFileMissing(
                        f"cannot publish {final}: its temp file is not there") from exc
                raise
            return final

        return self._session.run(f"publishing {final}", rename)

    def discard(self, folder: str, name: str, token: str) -> None:
        parts = split_relative(folder, "folder")
        remote_temp = posixpath.join(join(self.root, parts), temp_name(checked_name(name), token))
        self._session.run(f"removing {remote_temp}",
                          lambda client: remove_quietly(client, remote_temp))

    def stage_many(self, folder: str, items: Sequence[tuple[str, str, bytes]]
                   ) -> list[str | TransportError]:
        """Upload every temp pipelined (many files in flight on each channel)."""
        parts = split_relative(folder, "folder")
        prefix, remote_folder = "/".join(parts), join(self.root, parts)

        def job(item: tuple[str, str, bytes]) -> Job[str] | None:
            name, token, data = item
            temp = temp_name(checked_name(name), token)
            if len(data) > PIPELINED_UP_TO:
                return None
            return stage_job(posixpath.join(remote_folder, temp), data, child_path(prefix, temp))

        return self._bulk.run(f"uploading {len(items)} files to {prefix}", items, job,
                              lambda item: self.stage(folder, *item))

    def publish_many(self, folder: str, items: Sequence[tuple[str, str]]
                     ) -> list[str | TransportError]:
        parts = split_relative(folder, "folder")
        prefix, remote_folder = "/".join(parts), join(self.root, parts)

        def job(item: tuple[str, str]) -> Job[str]:
            name, token = checked_name(item[0]), item[1]
            return rename_job(posixpath.join(remote_folder, temp_name(name, token)),
                              posixpath.join(remote_folder, name), child_path(prefix, name))

        return self._bulk.run(f"publishing {len(items)} files in {prefix}", items, job,
                              lambda item: self.publish(folder, *item))

    def read_many(self, paths: Sequence[str], max_size: int) -> list[bytes | TransportError]:
        """Download every file pipelined; large ones with paramiko's prefetch."""
        def job(path: str) -> Job[bytes]:
            folder, name = split_file(path)
            return read_job(posixpath.join(join(self.root, folder), name), max_size)

        return self._bulk.run(f"reading {len(paths)} files", paths, job,
                              lambda path: self.read(path, max_size))

    def move_many(self, items: Sequence[tuple[str, str, str | None]]
                  ) -> list[str | TransportError]:
        """Plain moves pipelined (one rename each); moves with a reason file, and any
        rename refused, go the careful way."""
        def job(item: tuple[str, str, str | None]) -> Job[str] | None:
            path, folder, reason = item
            source_folder, name = split_file(path)
            target_parts = split_relative(folder, "folder")
            if reason is not None:
                return None
            return rename_job(join(self.root, (*source_folder, name)),
                              join(self.root, (*target_parts, name)),
                              child_path("/".join(target_parts), name))

        return self._bulk.run(f"moving {len(items)} files", items, job,
                              lambda item: self.move(item[0], item[1], item[2]))

    def exists(self, path: str) -> bool:
        folder, name = split_file(path)
        remote = posixpath.join(join(self.root, folder), name)
        return self._session.run(f"looking for {path}", lambda client: is_present(client, remote))

    def remove(self, path: str) -> None:
        folder, name = split_file(path)
        remote = posixpath.join(join(self.root, folder), name)

        def delete(client: paramiko.SFTPClient) -> None:
            try:
                attrs = client.lstat(remote)
            except OSError as exc:
                if is_missing(client, exc):
                    raise RemoteFileMissing(f"cannot remove {path}: it is gone") from exc
                raise
            if attrs.st_mode is not None and stat.S_ISDIR(attrs.st_mode):
                raise TransportError(f"cannot remove {path}: it is a folder")
            client.remove(remote)  # a link is removed itself, never its target

        self._session.run(f"removing {path}", delete)

    # -- inbound ----------------------------------------------------------------------

    def list(self, folder: str) -> list[RemoteFile]:
        parts = split_relative(folder, "folder")
        prefix = "/".join(parts)
        remote = join(self.root, parts)

        what = f"listing {prefix or 'the partner root'}"
        found: list[list[tuple[str, Attrs]] | Fallback | None] = [None]
        self._session.run(what, lambda client: Pipeline(raw_channel(client)).run(
            [list_job(remote)], found))
        entries = found[0]
        if isinstance(entries, list):
            return _regular_files(prefix, entries)

        def listing(client: paramiko.SFTPClient) -> list[RemoteFile]:
            try:
                listed = client.listdir_attr(remote)  # the whole listing, before acting
            except OSError as exc:
                if is_missing(client, exc):
                    raise RemoteFileMissing(f"cannot list {prefix}: no such folder") from exc
                raise
            return _regular_files(prefix, [
                (entry.filename, Attrs(entry.st_size, entry.st_mode, entry.st_mtime))
                for entry in listed])

        return self._session.run(what, listing)

    def read(self, path: str, max_size: int) -> bytes:
        folder, name = split_file(path)
        remote = posixpath.join(join(self.root, folder), name)

        def download(client: paramiko.SFTPClient) -> bytes:
            try:
                handle = client.open(remote, "rb")
            except OSError as exc:
                if is_missing(client, exc):
                    raise RemoteFileMissing(f"cannot read {path}: it is gone") from exc
                raise
            with handle:
                attrs = handle.stat()
                if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
                    raise TransportError(f"cannot read {path}: not a regular file")
                size = attrs.st_size or 0
                if size > max_size:
                    raise TransportError(f"{path} is {size} bytes, over the limit of "
                                         f"{max_size}; not read")
                if size > PREFETCH_ABOVE:
                    handle.prefetch(size)  # a reader thread; worth it for large files only
                data = handle.read(max_size + 1)  # the partner may still be appending
            if len(data) > max_size:
                raise TransportError(f"{path} grew past the limit of {max_size} bytes while read")
            return data

        return self._session.run(f"reading {path}", download)

    def move(self, path: str, folder: str, reason: str | None = None) -> str:
        source_folder, name = split_file(path)
        target_parts = split_relative(folder, "folder")
        source = posixpath.join(join(self.root, source_folder), name)
        target_prefix = "/".join(target_parts)

        def relocate(client: paramiko.SFTPClient) -> str:
            remote_target = join(self.root, (*target_parts, name))
            if reason is None and rename_if_free(client, source, remote_target):
                return child_path(target_prefix, name)
            if kind_of(client, join(self.root, target_parts)) is not Kind.FOLDER:
                if not is_present(client, source):
                    raise RemoteFileMissing(f"cannot move {path}: it is gone")
                self._make_folders(client, target_parts)
            for candidate in candidate_names(name):
                target = child_path(target_prefix, candidate)
                if move_as(client, path, source, join(self.root, (*target_parts, candidate)),
                           target, reason):
                    return target
            raise TransportError(f"cannot move {path}: no free name left in {folder}")

        return self._session.run(f"moving {path} to {target_prefix}", relocate)

    # -- folders and check ------------------------------------------------------------

    def ensure_folders(self, folders: Iterable[str]) -> FolderChecks:
        return [self._ensure_folder(folder) for folder in folders]

    def check(self, folders: Iterable[str]) -> FolderChecks:
        """Connection, host key and login, then per folder: exists (or is created), can
        be listed, and takes a probe file that is renamed and removed again."""
        rows: FolderChecks = []
        try:
            self._session.connect(report=rows)
            for folder in folders:
                row = self._ensure_folder(folder)
                rows.append(self._probe(row) if row.ok else row)
        except PartnerUnreachable as exc:
            if not rows or rows[-1].ok:
                rows.append(FolderCheck("connection", False, str(exc)))
        return rows

    def _ensure_folder(self, folder: str) -> FolderCheck:
        try:
            parts = split_relative(folder, "folder")
            ok, detail = self._session.run(
                f"creating {folder}", lambda client: make_folders(client, self.root, parts))
        except PartnerUnreachable:
            raise
        except TransportError as exc:
            return FolderCheck(folder, False, str(exc))
        return FolderCheck(folder, ok, detail)

    def _probe(self, row: FolderCheck) -> FolderCheck:
        folder = row.name
        try:
            count = len(self.list(folder))
            remote = join(self.root, split_relative(folder, "folder"))
            probed = self._session.run(f"writing a probe file in {folder}",
                                       lambda client: write_probe(client, remote))
        except PartnerUnreachable:
            raise
        except TransportError as exc:
            return FolderCheck(folder, False, f"{row.detail}, but: {exc}")
        files = "1 file" if count == 1 else f"{count} files"
        return FolderCheck(folder, True, f"{row.detail}; {files}; {probed}")

    def _make_folders(self, client: paramiko.SFTPClient, parts: tuple[str, ...]) -> None:
        ok, detail = make_folders(client, self.root, parts)
        if not ok:
            raise TransportError(detail)

    def close(self) -> None:
        self._bulk.close()
        self._session.close()


def _regular_files(prefix: str, entries: Iterable[tuple[str, Attrs]]) -> list[RemoteFile]:
    """The regular files of a listing (folders, links and devices left out), by path."""
    files = [RemoteFile(child_path(prefix, name), attrs.size or 0, float(attrs.mtime or 0))
             for name, attrs in entries
             if attrs.mode is not None and stat.S_ISREG(attrs.mode)]
    return sorted(files, key=lambda file: file.path)
