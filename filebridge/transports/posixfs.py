"""File-system primitives under the local transport: never overwrite, never half-write.

Every function works relative to an open folder descriptor (the ``*at`` system calls)
so that a path checked once cannot be swapped for a symbolic link afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import grp
import os
import pwd
import secrets
import stat
from collections.abc import Callable, Collection

# Closed to others; the group is how a partner's chrooted SFTP account reads what we
# write when we host the folders (the umask may narrow these further).
FILE_MODE = 0o640
FOLDER_MODE = 0o750
ROOT_MODE = 0o700  # a root we create ourselves; an operator opens it to the group
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

_RENAME_NOREPLACE = 1
_NOREPLACE_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


def _load_renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc, or a libc older than 2.28
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    renameat2: Callable[[int, bytes, int, bytes, int], int] = function
    return renameat2


_RENAMEAT2 = _load_renameat2()


def rename_noreplace(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """Rename; raises ``FileExistsError`` if ``dst`` exists, leaving it untouched.

    ``renameat2(RENAME_NOREPLACE)`` does it in one step; where the kernel or the file
    system lacks it (NFS, older kernels, not Linux) a hard link does the same check.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst),
                      _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in _NOREPLACE_UNSUPPORTED:
            raise OSError(code, os.strerror(code), dst)
    link_noreplace(src_dir, src, dst_dir, dst)


def link_noreplace(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """A hard link fails if ``dst`` exists; then the old name is dropped. A crash in
    between leaves the file under both names, never under neither."""
    os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
    os.unlink(src, dir_fd=src_dir)


def fsync_dir(fd: int) -> None:
    """Make a rename durable; some network file systems cannot sync a folder."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise


def unlink_quietly(name: str, dir_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)


def write_new(dir_fd: int, name: str, data: bytes) -> None:
    """Write ``<name>.<random>.part``, fsync it, rename it to ``name`` without overwriting.

    Raises ``FileExistsError`` if ``name`` is taken; the temp file is removed on every
    failure (a crash leaves it behind, and its name is ignored by every reader).
    """
    temp = f"{name}.{secrets.token_hex(8)}.part"
    try:
        write_temp(dir_fd, temp, data)
        rename_noreplace(dir_fd, temp, dir_fd, name)
    except BaseException:
        unlink_quietly(temp, dir_fd)
        raise
    fsync_dir(dir_fd)


def write_temp(dir_fd: int, temp: str, data: bytes) -> None:
    """Write (or rewrite) our own temp file completely and fsync it and its folder."""
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 FILE_MODE, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(dir_fd)


def read_limited(dir_fd: int, name: str, max_size: int) -> bytes | None:
    """The file's bytes, or ``None`` if it is (or grows) larger than ``max_size``.

    Checks the size before reading and never reads more than ``max_size + 1`` bytes.
    ``O_NONBLOCK`` keeps a FIFO planted in a drop folder from hanging us until
    ``fstat`` refuses it; ``O_NOFOLLOW`` refuses a link.
    """
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", name)
        if info.st_size > max_size:
            return None
        chunks, left = [], max_size + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return None if left <= 0 else b"".join(chunks)


def open_child_folder(parent: int, name: str, create: bool, created: list[str] | None) -> int:
    """Open ``name`` in ``parent`` as a folder without following a link; with ``create``
    make it first (mode 0750, under the umask) and note it in ``created``."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, FOLDER_MODE, dir_fd=parent)
        if created is not None:
            created.append(name)
    except FileExistsError:
        pass
    return os.open(name, DIR_FLAGS, dir_fd=parent)


def taken(dir_fd: int, name: str) -> bool:
    """Whether anything (file, folder, link) has this name in the folder."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def permission_hint(action: str, what: str, *, owner_uid: int, owner_gid: int, mode: int,
                    uid: int, gids: Collection[int]) -> str:
    """Who owns ``what``, and what to change so filebridge (``uid``) may ``action`` it.

    ``action`` is ``read``, ``write`` or ``enter`` (a folder on the way).
    """
    bit = {"read": "r", "write": "w"}.get(action, "x")
    text = (f"cannot {action} {what}: owned by uid {owner_uid}{user_name(owner_uid)}, "
            f"group {owner_gid}{_group_name(owner_gid)}, mode {stat.S_IMODE(mode):04o}; "
            f"filebridge runs as uid {uid}{user_name(uid)}")
    if uid == owner_uid:
        return f"{text} — give the owner that right (chmod u+{bit})"
    if owner_gid in gids:
        return f"{text} — give the group that right (chmod g+{bit})"
    group_has_it = mode & {"r": 0o040, "w": 0o020, "x": 0o010}[bit]
    grant = "" if group_has_it else f", and chmod g+{bit}"
    return f"{text} — add it to group {owner_gid}{_group_name(owner_gid)}{grant}"


def hint_for(action: str, what: str, info: os.stat_result) -> str:
    """``permission_hint`` for this process and a ``stat`` result."""
    return permission_hint(action, what, owner_uid=info.st_uid, owner_gid=info.st_gid,
                           mode=info.st_mode, uid=os.geteuid(),
                           gids={os.getegid(), *os.getgroups()})


def user_name(uid: int) -> str:
    try:
        return f" ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return ""


def _group_name(gid: int) -> str:
    try:
        return f" ({grp.getgrgid(gid).gr_name})"
    except KeyError:
        return ""
