"""Many SFTP requests in flight on one channel: the fast path for bulk work.

paramiko's ``SFTPClient`` sends each request as its own SSH packet and waits for its
answer before the next step of a file (open, then write, then close, then rename), so
a thousand small files cost thousands of round trips and thousands of packets, each
encrypted and parsed in Python. SFTP itself allows any number of requests in flight
(answers carry the request id), and its byte stream may pack many requests into one
SSH packet. This module speaks the few SFTP v3 requests bulk work needs, directly on
a leased channel:

* each file's work is a *job*, a generator that yields a group of requests and is
  resumed with their replies once all have arrived (``open`` -> ``write, fstat,
  close``), so a job reads like the sequential code it replaces;
* up to ``max_jobs`` jobs run at once; their requests are buffered and sent together,
  then replies are read and dispatched by request id;
* what is in flight (request bytes plus the largest replies expected) stays under
  ``max_bytes``, below either side's channel window, so neither side ever waits on a
  window the other cannot open; a job's next group waits its turn when it would not
  fit.

A job only does the common case. Whatever else it meets (a missing folder, a taken
name, a short write) it ends with ``FALLBACK``, and the transport repeats that one
item on paramiko's careful path, which knows how to tell the cases apart. A job's
requests are all answered before ``run`` returns, so the channel is clean to reuse;
any error from the link itself propagates, and the session then drops the channel.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import paramiko

R = TypeVar("R")

# SFTP v3 request and reply types (draft-ietf-secsh-filexfer-02)
OPEN, CLOSE, READ, WRITE, FSTAT = 3, 4, 5, 6, 8
OPENDIR, READDIR, REMOVE, RENAME = 11, 12, 13, 18
STATUS, HANDLE, DATA, NAME, ATTRS = 101, 102, 103, 104, 105

OK, EOF = 0, 1

FLAG_READ, FLAG_WRITE, FLAG_CREATE, FLAG_TRUNCATE = 0x1, 0x2, 0x8, 0x10
ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS, ATTR_TIMES, ATTR_EXTENDED = (
    0x1, 0x2, 0x4, 0x8, 0x80000000)

CHUNK: Final = 32768  # bytes per READ or WRITE request, what every server accepts
RECV_SIZE: Final = 65536
REPLY_OVERHEAD: Final = 64  # bytes budgeted for any reply that carries no data
MAX_REPLY: Final = 4 << 20  # bytes; a longer reply is a broken or hostile server


class Fallback:
    """Marker returned by a job: do this item again on the careful path."""

    def __repr__(self) -> str:
        return "FALLBACK"


FALLBACK: Final = Fallback()


@dataclass(frozen=True, slots=True)
class Request:
    """One SFTP request, encoded but for its id; ``reply_size`` is the most its reply
    can carry (for the in-flight budget)."""

    kind: int
    body: bytes
    reply_size: int = REPLY_OVERHEAD


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    message: str

    @property
    def ok(self) -> bool:
        return self.code == OK


@dataclass(frozen=True, slots=True)
class Handle:
    handle: bytes


@dataclass(frozen=True, slots=True)
class Data:
    data: bytes


@dataclass(frozen=True, slots=True)
class Attrs:
    size: int | None
    mode: int | None
    mtime: int | None


@dataclass(frozen=True, slots=True)
class Names:
    """One READDIR batch: each entry's name and attributes."""

    entries: list[tuple[str, Attrs]]


Reply = Status | Handle | Data | Attrs | Names
Job = Generator[Sequence[Request], Sequence[Reply], R | Fallback]
"""A file's work: yields request groups, is sent each group's replies, returns its
result (or ``FALLBACK``)."""


class ProtocolError(paramiko.SSHException):
    """The server sent something that is not an SFTP reply we asked for: the channel
    cannot be trusted any further (the session drops the connection)."""


# -- requests ------------------------------------------------------------------------

def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _path(remote: str) -> bytes:
    # a name that is not UTF-8 came from a listing as surrogates, and goes back as it came
    return _string(remote.encode("utf-8", "surrogateescape"))


def open_file(remote: str, flags: int) -> Request:
    return Request(OPEN, _path(remote) + struct.pack(">II", flags, 0))


def close(handle: bytes) -> Request:
    return Request(CLOSE, _string(handle))


def write(handle: bytes, offset: int, data: bytes) -> Request:
    return Request(WRITE, _string(handle) + struct.pack(">Q", offset) + _string(data))


def read(handle: bytes, offset: int, length: int) -> Request:
    return Request(READ, _string(handle) + struct.pack(">QI", offset, length),
                   reply_size=REPLY_OVERHEAD + length)


def fstat(handle: bytes) -> Request:
    return Request(FSTAT, _string(handle))


def rename(source: str, target: str) -> Request:
    """Plain SFTP ``RENAME``: OpenSSH refuses it when the target exists."""
    return Request(RENAME, _path(source) + _path(target))


def remove(remote: str) -> Request:
    return Request(REMOVE, _path(remote))


def open_dir(remote: str) -> Request:
    return Request(OPENDIR, _path(remote))


def read_dir(handle: bytes) -> Request:
    """The next batch of a folder's entries (OpenSSH sends up to 100 per reply)."""
    return Request(READDIR, _string(handle), reply_size=32768)


# -- replies -------------------------------------------------------------------------

def _parse(kind: int, body: memoryview) -> Reply:
    try:
        if kind == STATUS:
            code, length = struct.unpack_from(">II", body, 0)
            return Status(code, bytes(body[8:8 + length]).decode("utf-8", "replace"))
        if kind in (HANDLE, DATA):
            (length,) = struct.unpack_from(">I", body, 0)
            value = bytes(body[4:4 + length])
            if len(value) != length:
                raise ProtocolError("SFTP reply shorter than it says")
            return Handle(value) if kind == HANDLE else Data(value)
        if kind == ATTRS:
            return _parse_attrs(body, 0)[0]
        if kind == NAME:
            return _parse_names(body)
    except struct.error as exc:
        raise ProtocolError(f"malformed SFTP reply: {exc}") from exc
    raise ProtocolError(f"unexpected SFTP reply type {kind}")


def _parse_names(body: memoryview) -> Names:
    (count,) = struct.unpack_from(">I", body, 0)
    at = 4
    entries = []
    for _ in range(count):
        (length,) = struct.unpack_from(">I", body, at)
        name = bytes(body[at + 4:at + 4 + length]).decode("utf-8", "surrogateescape")
        at += 4 + length
        (length,) = struct.unpack_from(">I", body, at)  # the "ls -l" line: not needed
        at += 4 + length
        attrs, at = _parse_attrs(body, at)
        entries.append((name, attrs))
    return Names(entries)


def _parse_attrs(body: memoryview, at: int) -> tuple[Attrs, int]:
    """The attributes at ``at``, and where the next field starts."""
    (flags,) = struct.unpack_from(">I", body, at)
    at += 4
    size = mode = mtime = None
    if flags & ATTR_SIZE:
        (size,) = struct.unpack_from(">Q", body, at)
        at += 8
    if flags & ATTR_UIDGID:
        at += 8
    if flags & ATTR_PERMISSIONS:
        (mode,) = struct.unpack_from(">I", body, at)
        at += 4
    if flags & ATTR_TIMES:
        (_, mtime) = struct.unpack_from(">II", body, at)
        at += 8
    if flags & ATTR_EXTENDED:
        (pairs,) = struct.unpack_from(">I", body, at)
        at += 4
        for _ in range(2 * pairs):
            (length,) = struct.unpack_from(">I", body, at)
            at += 4 + length
    return Attrs(size, mode, mtime), at


# -- the driver ----------------------------------------------------------------------

class _Group:
    """One yielded request group of one job, waiting for its replies."""

    __slots__ = ("budget", "index", "job", "remaining", "replies")

    def __init__(self, index: int, job: Job[Any], size: int, budget: int) -> None:
        self.index = index
        self.job = job
        self.remaining = size
        self.replies: list[Reply | None] = [None] * size
        self.budget = budget


class Pipeline:
    """Runs jobs on one SFTP channel with many requests in flight (one thread only)."""

    def __init__(self, channel: paramiko.Channel, max_jobs: int = 64,
                 max_bytes: int = 1 << 20) -> None:
        self._channel = channel
        self._max_jobs = max_jobs
        self._max_bytes = max_bytes
        self._next_id = 1
        self._waiting: dict[int, tuple[_Group, int]] = {}
        self._out: list[bytes] = []
        self._in_flight = 0
        self._active = 0
        self._buffer = b""
        self._ready: deque[tuple[_Group, Sequence[Request]]] = deque()

    def run(self, jobs: Sequence[Job[R]], results: list[R | Fallback | None]) -> None:
        """Run every job; ``results[i]`` is set as job ``i`` finishes, so a caller that
        catches an error from the link still knows which jobs had finished before."""
        queue = deque(enumerate(jobs))
        while queue or self._active:
            while True:
                self._send_ready()
                if self._ready or not queue or self._active >= self._max_jobs:
                    break
                index, job = queue.popleft()
                self._active += 1
                self._advance(index, job, None, results)
            if not self._waiting:
                continue  # the jobs just started or resumed all finished at once
            self._flush()
            for group in self._receive():
                self._in_flight -= group.budget
                self._advance(group.index, group.job, group.replies, results)

    def _advance(self, index: int, job: Job[R], replies: list[Reply | None] | None,
                 results: list[R | Fallback | None]) -> None:
        """Resume ``job`` with its replies; its next group waits in line to be sent."""
        try:
            requests = job.send(replies) if replies is not None else next(job)  # type: ignore[arg-type]
        except StopIteration as stop:
            results[index] = stop.value
            self._active -= 1
            return
        if not requests:
            raise ValueError("an SFTP job yielded no requests")
        group = _Group(index, job, len(requests),
                       sum(len(r.body) + r.reply_size for r in requests))
        self._ready.append((group, requests))

    def _send_ready(self) -> None:
        """Queue the waiting groups for sending while they fit in the budget (one always
        goes when nothing is in flight, however big, so work never stalls)."""
        while self._ready and (not self._in_flight or (
                self._in_flight + self._ready[0][0].budget <= self._max_bytes)):
            group, requests = self._ready.popleft()
            for position, request in enumerate(requests):
                request_id = self._next_id
                self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
                self._waiting[request_id] = (group, position)
                self._out.append(struct.pack(">IBI", len(request.body) + 5, request.kind,
                                             request_id))
                self._out.append(request.body)
            self._in_flight += group.budget

    def _flush(self) -> None:
        if self._out:
            data, self._out = b"".join(self._out), []
            self._channel.sendall(data)

    def _receive(self) -> list[_Group]:
        """Read until at least one group is complete; return the complete groups."""
        done: list[_Group] = []
        buffer = self._buffer
        while not done:
            chunk = self._channel.recv(RECV_SIZE)  # the channel's timeout is the deadline
            if not chunk:
                raise EOFError("the server closed the SFTP channel")
            buffer += chunk
            view = memoryview(buffer)
            at = 0
            while len(view) - at >= 9:
                (length,) = struct.unpack_from(">I", view, at)
                if not 5 <= length <= MAX_REPLY:
                    raise ProtocolError(f"SFTP reply of {length} bytes: not a reply we asked for")
                if len(view) - at - 4 < length:
                    break
                kind = view[at + 4]
                (request_id,) = struct.unpack_from(">I", view, at + 5)
                reply = _parse(kind, view[at + 9:at + 4 + length])
                at += 4 + length
                try:
                    group, position = self._waiting.pop(request_id)
                except KeyError:
                    raise ProtocolError(f"SFTP reply to unknown request {request_id}") from None
                group.replies[position] = reply
                group.remaining -= 1
                if group.remaining == 0:
                    done.append(group)
            buffer = bytes(view[at:])
        self._buffer = buffer
        return done
