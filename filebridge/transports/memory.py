"""The memory transport: drop folders in a dict, for fast tests of the engine.

Same semantics as the local transport (atomic put, never overwrite, moves with reason
files and ``~N`` suffixes on a clash, the same path checks), with three additions for
tests:

- ``MemoryStore`` holds the folders. Several transports opened on one store see the
  same files, and the store itself is the partner's side: ``write``, ``rename``,
  ``remove``, ``read``, ``names``... act directly, as a partner's SFTP client would.
  ``MemoryStore.named(name)`` (and ``MemoryTransport.shared(name)``) hand out one store
  per name, which is what ``transport = "memory"`` with ``root = name`` opens.
- ``watch`` calls ``wake(path, renamed)`` synchronously, on the writer's thread.
- Faults on demand: ``fail_next("put_atomic", error)`` and ``unreachable = True``, on
  one transport (the bridge's connection) or on the store (every connection to it).
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from filebridge.errors import (
    FileAlreadyExists,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
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

OPERATIONS = frozenset({"put_atomic", "stage", "publish", "list", "read", "move", "remove",
                        "exists", "ensure_folders", "check", "watch"})
Clock = Callable[[], float]
T = TypeVar("T")


class FaultPlan:
    """Failures a test asks for: the next call(s) of an operation, or all while
    ``unreachable``. ``after=True`` fails *after* the operation took effect (a put
    that landed but whose reply was lost)."""

    def __init__(self) -> None:
        self.unreachable = False
        self._pending: dict[str, deque[tuple[Exception, bool]]] = {}
        self._lock = threading.Lock()

    def fail_next(self, operation: str, error: Exception | None = None, *,
                  times: int = 1, after: bool = False) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {sorted(OPERATIONS)}")
        error = error or TransportError(f"injected failure of {operation}")
        with self._lock:
            self._pending.setdefault(operation, deque()).extend([(error, after)] * times)

    def _raise_if_due(self, operation: str, after: bool) -> None:
        if not after and self.unreachable:
            raise PartnerUnreachable("partner unreachable (simulated)")
        with self._lock:
            queue = self._pending.get(operation)
            if not queue or queue[0][1] != after:
                return
            error, _ = queue.popleft()
        raise error


@dataclass
class _Entry:
    data: bytes
    mtime: float


@dataclass(frozen=True)
class _Watch:
    owner: MemoryTransport
    folders: frozenset[str]
    wake: WakeCallback


class MemoryStore(FaultPlan):
    """Folders and files shared by every ``MemoryTransport`` opened on it; its public
    methods are the partner's side. ``clock`` stamps mtimes (epoch seconds)."""

    _registry: ClassVar[dict[str, MemoryStore]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._files: dict[str, _Entry] = {}
        self._folders: set[str] = {""}
        self._watches: list[_Watch] = []
        self._mutex = threading.RLock()

    @classmethod
    def named(cls, name: str) -> MemoryStore:
        """The one store for ``name`` in this process, created on first use."""
        with cls._registry_lock:
            return cls._registry.setdefault(name, cls())

    @classmethod
    def forget(cls, name: str | None = None) -> None:
        """Drop one named store (or all of them) so the next test starts empty."""
        with cls._registry_lock:
            if name is None:
                cls._registry.clear()
            else:
                cls._registry.pop(name, None)

    # -- the partner's side: plain file operations, overwriting like a real client
    def write(self, path: str, data: bytes, *, mtime: float | None = None) -> None:
        """Create or replace a file (parent folders too), as a partner uploading in place."""
        folder, name = split_file(path)
        key = child_path("/".join(folder), name)
        with self._mutex:
            if key in self._folders:
                raise IsADirectoryError(path)
            self._make_folder(folder)
            self._files[key] = _Entry(
                bytes(data), self.clock() if mtime is None else mtime)
        self._notify(path, renamed=False)

    def rename(self, src: str, dst: str) -> None:
        """Rename a file, replacing ``dst`` like POSIX rename (a partner's upload
        finishing with ``x.part`` -> ``x.xml``)."""
        source, target = self._key(src), self._key(dst)
        with self._mutex:
            entry = self._files.pop(source, None)
            if entry is None:
                raise FileNotFoundError(src)
            self._make_folder(split_file(dst)[0])
            self._files[target] = entry
        self._notify(target, renamed=True)

    def read(self, path: str) -> bytes:
        with self._mutex:
            entry = self._files.get(self._key(path))
        if entry is None:
            raise FileNotFoundError(path)
        return entry.data

    def remove(self, path: str) -> None:
        with self._mutex:
            if self._files.pop(self._key(path), None) is None:
                raise FileNotFoundError(path)

    def set_mtime(self, path: str, mtime: float) -> None:
        with self._mutex:
            self._files[self._key(path)].mtime = mtime

    def mkdir(self, folder: str) -> None:
        with self._mutex:
            self._make_folder(split_relative(folder, "folder"))

    def names(self, folder: str) -> builtins.list[str]:
        """Every entry directly in ``folder`` (files and folders), sorted; [] if missing."""
        prefix = "/".join(split_relative(folder, "folder"))
        with self._mutex:
            entries = [*self._files, *self._folders]
        return sorted(p.rsplit("/", 1)[-1] for p in entries if p and _parent(p) == prefix)

    def is_dir(self, path: str) -> bool:
        with self._mutex:
            return "/".join(split_relative(path)) in self._folders

    def exists(self, path: str) -> bool:
        key = "/".join(split_relative(path))
        with self._mutex:
            return key in self._files or key in self._folders

    # -- used by MemoryTransport
    def _key(self, path: str) -> str:
        folder, name = split_file(path)
        return child_path("/".join(folder), name)

    def _make_folder(self, parts: tuple[str, ...]) -> bool:
        """Create ``parts`` and its parents; True if it did not exist. Caller locks."""
        key = "/".join(parts)
        if key in self._files or any("/".join(parts[:i]) in self._files
                                     for i in range(1, len(parts))):
            raise TransportError(f"cannot create folder {key}: a file is in the way")
        created = key not in self._folders
        self._folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        return created

    def _notify(self, path: str, *, renamed: bool) -> None:
        """Wake watchers of the file's folder, on this thread, outside the lock."""
        folder, name = split_file(path)
        if is_ignored_name(name):
            return
        key = "/".join(folder)
        with self._mutex:
            watches = [watch for watch in self._watches if key in watch.folders]
        for watch in watches:
            try:
                watch.wake(child_path(key, name), renamed)
            except Exception:
                log.exception("wake callback failed for %s", path)


class MemoryTransport(FaultPlan, Transport):
    """One connection to a ``MemoryStore``. ``clock`` (default: the store's) stamps the
    mtime of files this transport writes."""

    def __init__(self, store: MemoryStore | None = None, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.store = store if store is not None else MemoryStore()
        self._clock = clock
        self._closed = False

    @classmethod
    def shared(cls, name: str, *, clock: Clock | None = None) -> MemoryTransport:
        """A transport on the process-wide store called ``name``."""
        return cls(MemoryStore.named(name), clock=clock)

    def put_atomic(self, folder: str, name: str, data: bytes) -> str:
        parts = split_relative(folder, "folder")
        path = child_path("/".join(parts), checked_name(name))

        def put() -> str:
            store = self.store
            with store._mutex:
                store._make_folder(parts)
                if path in store._files or path in store._folders:
                    raise FileAlreadyExists(
                        f"{path} already exists; filebridge never overwrites a file")
                store._files[path] = _Entry(bytes(data), self._now())
            store._notify(path, renamed=True)
            return path

        return self._run("put_atomic", put)

    def stage(self, folder: str, name: str, token: str, data: bytes) -> str:
        parts = split_relative(folder, "folder")
        path = child_path("/".join(parts), temp_name(checked_name(name), token))

        def stage() -> str:
            with self.store._mutex:
                self.store._make_folder(parts)
                self.store._files[path] = _Entry(bytes(data), self._now())
            return path

        return self._run("stage", stage)

    def publish(self, folder: str, name: str, token: str) -> str:
        prefix = "/".join(split_relative(folder, "folder"))
        path = child_path(prefix, checked_name(name))
        temp = child_path(prefix, temp_name(name, token))

        def publish() -> str:
            store = self.store
            with store._mutex:
                if path in store._files or path in store._folders:
                    raise FileAlreadyExists(
                        f"{path} already exists; filebridge never overwrites a file")
                if temp not in store._files:
                    raise RemoteFileMissing(f"cannot publish {path}: {temp} is not there")
                store._files[path] = store._files.pop(temp)
            store._notify(path, renamed=True)
            return path

        return self._run("publish", publish)

    def discard(self, folder: str, name: str, token: str) -> None:
        prefix = "/".join(split_relative(folder, "folder"))
        with self.store._mutex:
            self.store._files.pop(child_path(prefix, temp_name(name, token)), None)

    def list(self, folder: str) -> builtins.list[RemoteFile]:
        prefix = "/".join(split_relative(folder, "folder"))

        def listing() -> builtins.list[RemoteFile]:
            with self.store._mutex:
                if prefix not in self.store._folders:
                    raise RemoteFileMissing(f"cannot list {prefix}: no such folder")
                return sorted((RemoteFile(path, len(entry.data), entry.mtime)
                               for path, entry in self.store._files.items()
                               if _parent(path) == prefix), key=lambda file: file.path)

        return self._run("list", listing)

    def read(self, path: str, max_size: int) -> bytes:
        key = self.store._key(path)

        def read() -> bytes:
            with self.store._mutex:
                entry = self.store._files.get(key)
            if entry is None:
                raise RemoteFileMissing(f"cannot read {key}: no such file")
            if len(entry.data) > max_size:
                raise TransportError(f"{key} is larger than the limit of {max_size} bytes; "
                                     f"not read")
            return entry.data

        return self._run("read", read)

    def move(self, path: str, folder: str, reason: str | None = None) -> str:
        key = self.store._key(path)
        target = split_relative(folder, "folder")

        def move() -> str:
            store = self.store
            with store._mutex:
                if key in store._folders:
                    raise TransportError(f"cannot move {key}: it is a folder")
                if key not in store._files:
                    raise RemoteFileMissing(f"cannot move {key}: no such file")
                store._make_folder(target)
                for candidate in candidate_names(key.rsplit("/", 1)[-1]):
                    new = child_path("/".join(target), candidate)
                    if not any(store.exists(p) for p in (new, new + REASON_SUFFIX)):
                        break
                else:
                    raise TransportError(f"cannot move {key}: no free name left in {folder}")
                if reason is not None:
                    store._files[new + REASON_SUFFIX] = _Entry(reason.encode(), self._now())
                store._files[new] = store._files.pop(key)
            store._notify(new, renamed=True)
            return new

        return self._run("move", move)

    def remove(self, path: str) -> None:
        key = self.store._key(path)

        def remove() -> None:
            with self.store._mutex:
                if key in self.store._folders:
                    raise TransportError(f"cannot remove {key}: it is a folder")
                if self.store._files.pop(key, None) is None:
                    raise RemoteFileMissing(f"cannot remove {key}: no such file")

        self._run("remove", remove)

    def exists(self, path: str) -> bool:
        key = self.store._key(path)
        return self._run("exists", lambda: self.store.exists(key))

    def ensure_folders(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        return self._run("ensure_folders", lambda: [self._ensure(f) for f in folders])

    def check(self, folders: Iterable[str]) -> builtins.list[FolderCheck]:
        return self._run("check", lambda: [self._ensure(f) for f in folders])

    def watch(self, folders: Iterable[str], wake: WakeCallback) -> None:
        keys = frozenset("/".join(split_relative(f, "folder")) for f in folders)

        def watch() -> None:
            with self.store._mutex:
                self.store._watches.append(_Watch(self, keys, wake))

        self._run("watch", watch)

    @property
    def watches(self) -> bool:
        with self.store._mutex:
            return any(watch.owner is self for watch in self.store._watches)

    def close(self) -> None:
        self._closed = True
        with self.store._mutex:
            self.store._watches = [w for w in self.store._watches if w.owner is not self]

    def _ensure(self, folder: str) -> FolderCheck:
        try:
            parts = split_relative(folder, "folder")
            with self.store._mutex:
                created = self.store._make_folder(parts)
        except TransportError as exc:
            return FolderCheck(folder, False, str(exc))
        return FolderCheck(folder, True, "created" if created else "exists")

    def _now(self) -> float:
        return (self._clock or self.store.clock)()

    def _run(self, operation: str, action: Callable[[], T]) -> T:
        """Faults due on this transport or its store, then the operation."""
        if self._closed:
            raise TransportError("the memory transport is closed")
        for plan in (self, self.store):
            plan._raise_if_due(operation, after=False)
        result = action()
        for plan in (self, self.store):
            plan._raise_if_due(operation, after=True)
        return result


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""
