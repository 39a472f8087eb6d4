"""The local transport: a partner's drop folders on this host's file system.

Used when we host the drop folders: partners log in to our SFTP server (chrooted to
their root) and filebridge works on the same folders directly, reacting at once
through watchdog (or a polling observer on network shares where inotify sees nothing).

Partners can create files *and symbolic links* inside their chroot, so nothing below
the root is ever followed through a link: every operation opens the path one folder
at a time with ``O_NOFOLLOW`` and works relative to the open folder. A link where a
folder or file should be is refused, even one pointing back inside the root, so a
race that swaps a folder for a link cannot redirect a write, a read or a move.

Writes go to ``<name>.<random>.part``, are fsynced, and are renamed into place
without ever replacing an existing name (see ``posixfs``).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from filebridge.errors import (
    FileAlreadyExists,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.transports import posixfs
from filebridge.transports.base import (
    REASON_SUFFIX,
    FolderCheck,
    RemoteFile,
    Transport,
    WakeCallback,
    is_ignored_name,
    temp_name,
)
from filebridge.transports.paths import (
    candidate_names,
    checked_name,
    child_path,
    split_file,
    split_relative,
)

log = logging.getLogger(__name__)
# watchdog warns when an event comes in while its emitter thread is stopping (our
# close()); the event is for a bridge that is shutting down, so there is nothing to act on.
logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)

# Errors that mean the storage itself is gone (stale NFS handle, dead FUSE mount).
_UNREACHABLE_ERRNOS = frozenset({
    errno.ESTALE, errno.ENOTCONN, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ETIMEDOUT,
    errno.ENETDOWN, errno.ENETUNREACH, errno.ECONNREFUSED, errno.ENODEV,
})
_ARRIVALS = frozenset({EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED,
                       EVENT_TYPE_MOVED})
ROOT = "the partner root"


class LocalTransport(Transport):
    """Drop folders under ``root`` on this host.

    ``polling`` watches with a ``PollingObserver`` that rescans every ``poll_interval``
    seconds. It sees a rename only if it saw the temp name in an earlier scan; a file
    written and renamed between two scans wakes as created, and settles as usual.
    """

    def __init__(self, root: Path, *, polling: bool = False, poll_interval: float = 1.0) -> None:
        self.root = Path(root)
        self.polling = polling
        self.poll_interval = poll_interval
        self._observer: BaseObserver | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"LocalTransport({str(self.root)!r})"

    # -- the port's verbs
    def stage(self, folder: str, name: str, token: str, data: bytes) -> str:
        parts = split_relative(folder, "folder")
        temp = temp_name(checked_name(name), token)
        path = child_path("/".join(parts), temp)
        with (self._errors("write", path, writes_in=(folder,)),
              self._folder(parts, create=True) as dir_fd):
            posixfs.write_temp(dir_fd, temp, data)
        return path

    def publish(self, folder: str, name: str, token: str) -> str:
        parts = split_relative(folder, "folder")
        path = child_path("/".join(parts), checked_name(name))
        with (self._errors("publish", path, writes_in=(folder,)),
              self._folder(parts) as dir_fd):
            try:
                posixfs.rename_noreplace(dir_fd, temp_name(name, token), dir_fd, name)
            except FileExistsError as exc:
                raise FileAlreadyExists(
                    f"{path} already exists; filebridge never overwrites a file") from exc
            posixfs.fsync_dir(dir_fd)
        return path

    def discard(self, folder: str, name: str, token: str) -> None:
        parts = split_relative(folder, "folder")
        with (self._errors("remove", folder, writes_in=(folder,)),
              self._folder(parts) as dir_fd):
            posixfs.unlink_quietly(temp_name(checked_name(name), token), dir_fd)

    def list(self, folder: str) -> builtins.list[RemoteFile]:
        parts = split_relative(folder, "folder")
        prefix = "/".join(parts)
        files = []
        with (self._errors("list", prefix, reads=True), self._folder(parts) as dir_fd,
              os.scandir(dir_fd) as entries):
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):  # gone since listed
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode):
                        files.append(RemoteFile(child_path(prefix, entry.name),
                                                info.st_size, info.st_mtime))
        return sorted(files, key=lambda file: file.path)

    def read(self, path: str, max_size: int) -> bytes:
        folder, name = split_file(path)
        with self._errors("read", path, reads=True), self._folder(folder) as dir_fd:
            data = posixfs.read_limited(dir_fd, name, max_size)
        if data is None:
            raise TransportError(f"{path} is larger than the limit of {max_size} bytes; "
                                 f"not read")
        return data

    def move(self, path: str, folder: str, reason: str | None = None) -> str:
        source, name = split_file(path)
        target = split_relative(folder, "folder")
        with (self._errors("move", path, writes_in=("/".join(source), folder)),
              self._folder(source) as src_fd,
              self._folder(target, create=True) as dst_fd):
            if stat.S_ISDIR(os.stat(name, dir_fd=src_fd, follow_symlinks=False).st_mode):
                raise TransportError(f"cannot move {path}: it is a folder")
            for candidate in candidate_names(name):
                if posixfs.taken(dst_fd, candidate) or posixfs.taken(
                        dst_fd, candidate + REASON_SUFFIX):
                    continue
                if _move_as(src_fd, name, dst_fd, candidate, reason):
                    posixfs.fsync_dir(dst_fd)
                    posixfs.fsync_dir(src_fd)
                    return child_path("/".join(target), candidate)
        raise TransportError(f"cannot move {path}: no free name left in {folder}")

    def remove(self, path: str) -> None:
        folder, name = split_file(path)
        with (self._errors("remove", path, writes_in=("/".join(folder),)),
              self._folder(folder) as dir_fd):
            if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                raise TransportError(f"cannot remove {path}: it is a folder")
            os.unlink(name, dir_fd=dir_fd)  # a link is removed itself, never its target

    def exists(self, path: str) -> bool:
        folder, name = split_file(path)
        with self._errors("look for", path):
            try:
                with self._folder(folder) as dir_fd:
                    return posixfs.taken(dir_fd, name)
            except FileNotFoundError:
                return False

    def ensure_folders(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        """Create the root (0700) and missing folders (0750, under the umask); report
        each folder. A root that cannot be created raises ``PartnerUnreachable``."""
        self._ensure_open()
        try:
            self.root.mkdir(mode=posixfs.ROOT_MODE, parents=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise PartnerUnreachable(f"partner root {self.root} does not exist and cannot be "
                                     f"created: {exc.strerror}") from exc
        return [self._ensure_folder(folder) for folder in folders]

    def check(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        """The root, then each folder: created if missing, listed, and written to with a
        probe file, since ``os.access`` says yes to root where a share may still say no."""
        checks = self.ensure_folders(folders)
        info = self.root.stat()
        root = FolderCheck("root", True, f"{self.root} (owner uid {info.st_uid}"
                           f"{posixfs.user_name(info.st_uid)}, "
                           f"mode {stat.S_IMODE(info.st_mode):04o})")
        return [root, *(self._probe(check) if check.ok else check for check in checks)]

    def watch(self, folders: Iterable[str], wake: WakeCallback) -> None:
        """Watch each folder that exists. One that cannot be watched is logged and left
        to the engine's periodic rescan rather than stopping the bridge."""
        targets: dict[str, str] = {}
        for folder in folders:
            parts = split_relative(folder, "folder")
            try:
                with self._errors("watch", folder, reads=True), self._folder(parts):
                    targets[str(self.root.joinpath(*parts))] = "/".join(parts)
            except TransportError as exc:
                log.warning("not watching %s: %s; relying on rescans", folder, exc)
        if not targets:
            return
        try:
            if self._observer is None:
                observer = (PollingObserver(timeout=self.poll_interval) if self.polling
                            else Observer())
                observer.daemon = True
                observer.start()
                self._observer = observer
            handler = _ArrivalHandler(targets, wake)
            # One recursive watch on the folders' common parent (from_partner/ with the
            # default layout, which holds archive/ and error/ too): our own moves from
            # acks/ to archive/ then arrive as one paired event. Watched folder by folder,
            # each move would leave a lone "moved out" event that watchdog holds back for
            # half a second waiting for its pair, delaying every event queued behind it.
            parent = os.path.commonpath(list(targets))
            self._observer.schedule(handler, parent, recursive=len(targets) > 1
                                    or parent not in targets)
        except OSError as exc:  # e.g. the inotify watch limit
            log.warning("cannot watch %s: %s; relying on rescans (or set polling_observer)",
                        self.root, exc)

    @property
    def shares_our_clock(self) -> bool:
        return True

    @property
    def watches(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def close(self) -> None:
        self._closed = True
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    # -- folders, opened one component at a time
    def _ensure_open(self) -> None:
        if self._closed:
            raise TransportError(f"{self!r} is closed")

    @contextlib.contextmanager
    def _folder(self, parts: tuple[str, ...], *, create: bool = False,
                created: builtins.list[str] | None = None) -> Iterator[int]:
        self._ensure_open()
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise PartnerUnreachable(f"partner root {self.root} cannot be opened: "
                                     f"{exc.strerror} (missing or not mounted?)") from exc
        try:
            for part in parts:
                parent, fd = fd, -1
                try:
                    fd = posixfs.open_child_folder(parent, part, create, created)
                finally:
                    os.close(parent)
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def _ensure_folder(self, folder: str) -> FolderCheck:
        created: builtins.list[str] = []
        try:
            parts = split_relative(folder, "folder")
            with (self._errors("create", folder, writes_in=(folder,)),
                  self._folder(parts, create=True, created=created) as fd):
                for action, mode in (("read", os.R_OK | os.X_OK), ("write", os.W_OK | os.X_OK)):
                    if not os.access(".", mode, dir_fd=fd):
                        return FolderCheck(folder, False,
                                           posixfs.hint_for(action, folder, os.fstat(fd)))
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
        except PartnerUnreachable:
            raise
        except TransportError as exc:
            return FolderCheck(folder, False, str(exc))
        state = "created" if created else "exists"
        return FolderCheck(folder, True, f"{state}, readable and writable (mode {mode:04o})")

    def _probe(self, check: FolderCheck) -> FolderCheck:
        probe = f".filebridge-check.{secrets.token_hex(4)}.part"
        try:
            with (self._errors("write", check.name, reads=True, writes_in=(check.name,)),
                  self._folder(split_relative(check.name, "folder")) as fd):
                os.listdir(fd)
                os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                 0o600, dir_fd=fd))
                os.unlink(probe, dir_fd=fd)
        except PartnerUnreachable:
            raise
        except TransportError as exc:
            return FolderCheck(check.name, False, f"write probe failed: {exc}")
        return FolderCheck(check.name, True, f"{check.detail}; write probe ok")

    @contextlib.contextmanager
    def _errors(self, action: str, path: str, *, reads: bool = False,
                writes_in: tuple[str, ...] = ()) -> Iterator[None]:
        """Translate ``OSError`` into the transport error tree, naming what and where.
        ``reads`` and ``writes_in`` say which rights the operation needed, so a refusal
        can say who owns what and what to change."""
        where = path or ROOT
        try:
            yield
        except FileNotFoundError as exc:
            raise RemoteFileMissing(f"cannot {action} {where}: no such file or folder") from exc
        except PermissionError as exc:
            needs = [(path, os.R_OK if reads else 0), *((f, os.W_OK | os.X_OK) for f in writes_in)]
            hints = (self._first_denied(split_relative(p), mode) for p, mode in needs)
            hint = next((h for h in hints if h), None)
            raise TransportError(hint or f"cannot {action} {where}: permission denied "
                                 f"(filebridge runs as uid {os.geteuid()})") from exc
        except OSError as exc:
            if exc.errno in _UNREACHABLE_ERRNOS:
                raise PartnerUnreachable(
                    f"cannot {action} {where} under {self.root}: {exc.strerror}") from exc
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise TransportError(
                    f"cannot {action} {where}: a symbolic link or a file is in the way; "
                    f"filebridge does not follow links below the partner root") from exc
            raise TransportError(f"cannot {action} {where}: {exc.strerror}") from exc

    def _first_denied(self, parts: tuple[str, ...], final_mode: int) -> str | None:
        """Walk from the root: each folder on the way must be enterable, a missing one's
        parent writable, the last entry allow ``final_mode``; describe the first refusal."""
        current, shown = self.root, ROOT
        for index in range(len(parts) + 1):
            try:
                info = current.lstat()
            except OSError:
                if index == 0 or os.access(current.parent, os.W_OK | os.X_OK):
                    return None
                parent = "/".join(parts[: index - 1]) or ROOT
                return posixfs.hint_for("write", parent, current.parent.lstat())
            need = final_mode if index == len(parts) else os.X_OK
            if need and not os.access(current, need, follow_symlinks=False):
                verb = "write" if need & os.W_OK else "read" if need & os.R_OK else "enter"
                return posixfs.hint_for(verb, shown, info)
            if index < len(parts):
                current, shown = current / parts[index], "/".join(parts[: index + 1])
        return None


def _move_as(src_fd: int, name: str, dst_fd: int, candidate: str, reason: str | None) -> bool:
    """The reason file first, then the file; False when someone took the name meanwhile.
    A crash in between leaves a reason file without its file, which nothing reads."""
    reason_name = candidate + REASON_SUFFIX
    if reason is not None:
        try:
            posixfs.write_new(dst_fd, reason_name, reason.encode("utf-8"))
        except FileExistsError:
            return False
    try:
        posixfs.rename_noreplace(src_fd, name, dst_fd, candidate)
    except BaseException as exc:
        if reason is not None:
            posixfs.unlink_quietly(reason_name, dst_fd)
        if isinstance(exc, FileExistsError):
            return False
        raise
    return True


class _ArrivalHandler(FileSystemEventHandler):
    """Turns watchdog events into ``wake(path, renamed)``: cheap, and never raises into
    watchdog's thread. A move event means the file was renamed into place, complete."""

    def __init__(self, folders: dict[str, str], wake: WakeCallback) -> None:
        super().__init__()
        self._folders = folders
        self._wake = wake

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            if event.is_directory or event.event_type not in _ARRIVALS:
                return
            renamed = event.event_type == EVENT_TYPE_MOVED
            where = os.fsdecode(event.dest_path if renamed else event.src_path)
            folder = self._folders.get(os.path.dirname(where))
            name = os.path.basename(where)
            if folder is None or not name or is_ignored_name(name):
                return
            self._wake(child_path(folder, name), renamed)
        except Exception:
            log.exception("wake callback failed for %s", event)
