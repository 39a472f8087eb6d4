"""The common case of each bulk SFTP verb, as a pipeline job (see ``sftp_pipeline``).

Each job is the happy path of one file and nothing more: it ends with ``FALLBACK`` on
anything unusual, and the transport then repeats that file on paramiko's careful
path, which tells a taken name from a missing temp, creates missing folders and
words the error. So these jobs never decide an error on their own, and the careful
path stays the one place that does.
"""

from __future__ import annotations

import stat

from filebridge.transports.sftp_pipeline import (
    CHUNK,
    EOF,
    FALLBACK,
    FLAG_CREATE,
    FLAG_READ,
    FLAG_TRUNCATE,
    FLAG_WRITE,
    Attrs,
    Data,
    Handle,
    Job,
    Names,
    Reply,
    Status,
    close,
    fstat,
    open_dir,
    open_file,
    read,
    read_dir,
    remove,
    rename,
    write,
)

READDIR_AHEAD = 4  # READDIR requests in flight on one folder handle
PIPELINED_UP_TO = 256 * 1024
"""Bytes: larger files take the careful path (paramiko's prefetch and pipelined
writes), so one file never fills the pipeline's in-flight budget alone."""


def _ok(reply: Reply) -> bool:
    return isinstance(reply, Status) and reply.ok


def stage_job(remote_temp: str, data: bytes, path: str) -> Job[str]:
    """Open the temp (create, truncate), write it all, check its size, close it."""
    (opened,) = yield [open_file(remote_temp, FLAG_WRITE | FLAG_CREATE | FLAG_TRUNCATE)]
    if not isinstance(opened, Handle):
        return FALLBACK  # e.g. the folder is missing: the careful path creates it
    handle = opened.handle
    requests = [write(handle, offset, data[offset:offset + CHUNK])
                for offset in range(0, len(data), CHUNK)]
    replies = yield [*requests, fstat(handle), close(handle)]
    *written, attrs, closed = replies
    if (all(_ok(reply) for reply in written) and isinstance(attrs, Attrs)
            and attrs.size == len(data) and _ok(closed)):
        return path
    yield [remove(remote_temp)]  # the careful path writes it again, and says what failed
    return FALLBACK


def rename_job(source: str, target: str, path: str) -> Job[str]:
    """One plain ``RENAME`` (refused by OpenSSH when the target exists)."""
    (renamed,) = yield [rename(source, target)]
    return path if _ok(renamed) else FALLBACK


def read_job(remote: str, max_size: int) -> Job[bytes]:
    """Open, stat and read from the start in one go; read on while there is more, then
    confirm the end and close together. A file that is not regular, is over the
    limit, or changed while read goes to the careful path."""
    (opened,) = yield [open_file(remote, FLAG_READ)]
    if not isinstance(opened, Handle):
        return FALLBACK
    handle = opened.handle
    attrs, reply = yield [fstat(handle), read(handle, 0, CHUNK)]
    if not isinstance(attrs, Attrs) or attrs.size is None or attrs.size > min(
            max_size, PIPELINED_UP_TO) or (attrs.mode is not None
                                           and not stat.S_ISREG(attrs.mode)):
        yield [close(handle)]
        return FALLBACK
    content = bytearray()
    while True:
        if isinstance(reply, Status) and reply.code == EOF and len(content) == attrs.size:
            (closed,) = yield [close(handle)]
            return bytes(content) if _ok(closed) else FALLBACK
        if not isinstance(reply, Data) or len(content) + len(reply.data) > attrs.size:
            yield [close(handle)]
            return FALLBACK
        content += reply.data
        if len(content) == attrs.size:
            end, closed = yield [read(handle, len(content), CHUNK), close(handle)]
            at_end = isinstance(end, Status) and end.code == EOF
            return bytes(content) if at_end and _ok(closed) else FALLBACK
        (reply,) = yield [read(handle, len(content), CHUNK)]


def list_job(remote: str) -> Job[list[tuple[str, Attrs]]]:
    """Every entry of a folder, with several READDIR requests in flight on its handle.

    SFTP answers requests on one handle as if they came one at a time, so the batches
    arrive in order; the folder is read to its end before anything is acted on.
    """
    (opened,) = yield [open_dir(remote)]
    if not isinstance(opened, Handle):
        return FALLBACK  # e.g. no such folder: the careful path says so
    handle = opened.handle
    entries: list[tuple[str, Attrs]] = []
    while True:
        replies = yield [read_dir(handle) for _ in range(READDIR_AHEAD)]
        for reply in replies:
            if isinstance(reply, Names):
                entries.extend(reply.entries)
            elif isinstance(reply, Status) and reply.code == EOF:
                yield [close(handle)]
                return entries
            else:
                yield [close(handle)]
                return FALLBACK
