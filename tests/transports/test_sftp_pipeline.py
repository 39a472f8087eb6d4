"""The SFTP request pipeline: many requests in flight on one channel, replies matched by id.

Protocol edge cases (replies out of order, split across reads, a reply nobody asked
for) come from a scripted SFTP peer, since OpenSSH never misbehaves on cue; what a
partner would notice (files landing whole, a server dying mid-batch) runs against the
real sshd.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from filebridge.errors import PartnerUnreachable
from filebridge.transports.sftp import SftpTransport
from filebridge.transports.sftp_jobs import list_job, read_job, stage_job
from filebridge.transports.sftp_pipeline import (
    ATTRS,
    CLOSE,
    DATA,
    EOF,
    FSTAT,
    HANDLE,
    NAME,
    OPEN,
    OPENDIR,
    READ,
    READDIR,
    STATUS,
    WRITE,
    Pipeline,
    ProtocolError,
)
from tests.servers.sshd import SshdServer, wait_for

ORDERS = "to_partner/orders"


def reply(kind: int, request_id: int, body: bytes) -> bytes:
    return struct.pack(">IBI", len(body) + 5, kind, request_id) + body


def string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def status(code: int) -> bytes:
    return struct.pack(">I", code) + string(b"") + string(b"")


class ScriptedChannel:
    """An SFTP server in memory: keeps files in a dict, answers each flushed batch of
    requests in reverse order, hands its replies out ``piece`` bytes at a time, and
    records the most requests (and request bytes) the client ever had unanswered."""

    def __init__(self, files: dict[str, bytes] | None = None, piece: int = 7,
                 rogue_reply: bool = False) -> None:
        self.files = dict(files or {})
        self.piece = piece
        self.rogue_reply = rogue_reply
        self.handles: dict[bytes, str] = {}
        self.pending = b""
        self.outbox = b""
        self.handed_out = 0  # reply bytes the client has received
        self.produced = 0  # reply bytes written to the outbox
        self.unanswered: deque[tuple[int, int]] = deque()  # (end of its reply, request size)
        self.unanswered_bytes = 0
        self.most_unanswered = 0
        self.most_unanswered_bytes = 0

    def sendall(self, data: bytes) -> None:
        self.pending += data
        answered: list[tuple[bytes, int]] = []
        while len(self.pending) >= 4:
            (length,) = struct.unpack_from(">I", self.pending, 0)
            if len(self.pending) < 4 + length:
                break
            packet, self.pending = self.pending[4:4 + length], self.pending[4 + length:]
            answered.append((self._answer(packet[0], packet[1:5], packet[5:]), length))
        if self.rogue_reply:
            answered.append((reply(STATUS, 999_999, status(0)), 0))
        for answer, size in reversed(answered):
            self.outbox += answer
            self.produced += len(answer)
            self.unanswered.append((self.produced, size))
            self.unanswered_bytes += size
        self.most_unanswered = max(self.most_unanswered, len(self.unanswered))
        self.most_unanswered_bytes = max(self.most_unanswered_bytes, self.unanswered_bytes)

    def recv(self, size: int) -> bytes:
        take = min(size, self.piece)
        chunk, self.outbox = self.outbox[:take], self.outbox[take:]
        self.handed_out += len(chunk)
        while self.unanswered and self.unanswered[0][0] <= self.handed_out:
            self.unanswered_bytes -= self.unanswered.popleft()[1]
        return chunk

    def _answer(self, kind: int, raw_id: bytes, body: bytes) -> bytes:
        (request_id,) = struct.unpack(">I", raw_id)
        (length,) = struct.unpack_from(">I", body, 0)
        first = body[4:4 + length]
        if kind == OPEN:
            path = first.decode()
            if path not in self.files and not struct.unpack_from(">I", body, 4 + length)[0] & 8:
                return reply(STATUS, request_id, status(2))
            self.files.setdefault(path, b"")
            handle = f"h{len(self.handles)}".encode()
            self.handles[handle] = path
            return reply(HANDLE, request_id, string(handle))
        path = self.handles[first]
        rest = body[4 + length:]
        if kind == WRITE:
            (offset,) = struct.unpack_from(">Q", rest, 0)
            data = rest[12:]
            content = self.files[path]
            self.files[path] = content[:offset] + data + content[offset + len(data):]
            return reply(STATUS, request_id, status(0))
        if kind == READ:
            offset, size = struct.unpack_from(">QI", rest, 0)
            data = self.files[path][offset:offset + size]
            if not data:
                return reply(STATUS, request_id, status(EOF))
            return reply(DATA, request_id, string(data))
        if kind == FSTAT:
            attrs = struct.pack(">IQI", 0x1 | 0x4, len(self.files[path]), 0o100644)
            return reply(ATTRS, request_id, attrs)
        assert kind == CLOSE
        return reply(STATUS, request_id, status(0))


def run(channel: ScriptedChannel, jobs: list, **limits: int) -> list[object]:
    results: list[object] = [None] * len(jobs)
    Pipeline(channel, **limits).run(jobs, results)  # type: ignore[arg-type]
    return results


def test_replies_out_of_order_and_split_across_reads_reach_their_own_file() -> None:
    # given a server that answers each batch backwards, seven bytes at a time
    channel = ScriptedChannel(piece=7)
    data = {f"/up/f{n}.part": os.urandom(n * 9_000) for n in range(12)}
    # when twelve files of different sizes are staged at once
    results = run(channel, [stage_job(path, content, path) for path, content in data.items()])
    # then every file got its own bytes, and each job its own result
    assert results == list(data)
    assert {path: channel.files[path] for path in data} == data


def test_reads_of_many_files_come_back_whole_and_in_order() -> None:
    files = {f"/in/a{n}.xml": os.urandom(n * 20_000 + 3) for n in range(6)}
    files["/in/empty.xml"] = b""
    channel = ScriptedChannel(files, piece=1000)
    paths = list(files)
    results = run(channel, [read_job(path, 1_000_000) for path in paths])
    assert results == [files[path] for path in paths]


def test_what_is_in_flight_stays_within_the_budget() -> None:
    # given more work than the budget allows at once
    channel = ScriptedChannel(piece=65_536)
    jobs = [stage_job(f"/up/{n}.part", b"x" * 10_000, str(n)) for n in range(200)]
    # when it runs with at most 8 files and 64 KB in flight
    results = run(channel, jobs, max_jobs=8, max_bytes=64 * 1024)
    # then all of it was done, never more than that unanswered at once (a file's
    # write, fstat and close go out together)
    assert results == [str(n) for n in range(200)]
    assert channel.most_unanswered <= 8 * 3
    assert channel.most_unanswered_bytes <= 64 * 1024


def test_a_reply_to_a_request_never_made_stops_the_pipeline() -> None:
    channel = ScriptedChannel(rogue_reply=True, piece=65_536)
    with pytest.raises(ProtocolError, match="unknown request 999999"):
        run(channel, [stage_job("/up/a.part", b"a", "a")])


def test_a_reply_claiming_to_be_gigabytes_long_is_refused_before_it_is_buffered() -> None:
    class Boasting(ScriptedChannel):
        def _answer(self, kind: int, raw_id: bytes, body: bytes) -> bytes:
            return struct.pack(">IBI", 3 << 30, HANDLE, 1) + b"h"

    with pytest.raises(ProtocolError, match="not a reply we asked for"):
        run(Boasting(piece=65_536), [stage_job("/up/a.part", b"a", "a")])


def test_a_channel_closed_by_the_server_is_an_end_of_file() -> None:
    class Closed(ScriptedChannel):
        def recv(self, size: int) -> bytes:
            return b""

    results: list[object] = [None]
    with pytest.raises(EOFError):
        Pipeline(Closed(), max_jobs=4).run([stage_job("/a.part", b"a", "a")], results)  # type: ignore[arg-type]
    assert results == [None]


# -- against the real server ---------------------------------------------------------

OpenSftp = Callable[..., SftpTransport]


def test_a_server_killed_mid_batch_keeps_what_was_done_and_loses_nothing(
    sshd_factory: Callable[[], SshdServer], open_sftp: OpenSftp
) -> None:
    # given a batch of 3,000 uploads in progress over one connection
    server = sshd_factory()
    transport = open_sftp(server, server.root, connections=1)
    transport.ensure_folders([ORDERS])
    folder: Path = server.root / ORDERS
    items = [(f"ORDER_{n:05d}_1.xml", f"t{n}", os.urandom(20_000)) for n in range(3_000)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        staging = pool.submit(transport.stage_many, ORDERS, items)
        wait_for(lambda: sum(1 for _ in folder.iterdir()) > 200, "the first temps to land")
        # when the server goes down in the middle of it
        server.stop()
        results = staging.result()
    # then each file is either reported staged, and whole on the server, or unreachable
    staged = [item for item, result in zip(items, results, strict=True)
              if isinstance(result, str)]
    lost = [result for result in results if not isinstance(result, str)]
    assert staged and lost
    assert all(isinstance(result, PartnerUnreachable) for result in lost)
    for name, token, data in staged:
        assert (folder / f"{name}.{token}.part").read_bytes() == data
    # and nothing is under a final name: publishing is a step of its own
    assert all(path.name.endswith(".part") for path in folder.iterdir())


def test_a_folder_listing_with_extended_attributes_is_read_entry_by_entry() -> None:
    # given a server that sends one entry with an extended attribute pair, one without
    def entry(name: bytes, size: int, extended: bool) -> bytes:
        flags = 0x1 | 0x4 | 0x8 | (0x80000000 if extended else 0)
        attrs = struct.pack(">IQIII", flags, size, 0o100600, 1, 1_700_000_000)
        if extended:
            attrs += struct.pack(">I", 1) + string(b"vendor@example.com") + string(b"x")
        return string(name) + string(b"-rw------- 1 u g " + name) + attrs

    class Listing(ScriptedChannel):
        def _answer(self, kind: int, raw_id: bytes, body: bytes) -> bytes:
            (request_id,) = struct.unpack(">I", raw_id)
            if kind == OPENDIR:
                return reply(HANDLE, request_id, string(b"d"))
            if kind == READDIR and not self.handles:
                self.handles[b"d"] = "listed"
                names = struct.pack(">I", 2) + entry(b"ACK_1.xml", 10, True) + entry(
                    "Å.xml".encode(), 20, False)
                return reply(NAME, request_id, names)
            return reply(STATUS, request_id, status(EOF if kind == READDIR else 0))

    # when the folder is listed
    (entries,) = run(Listing(piece=5), [list_job("/acks")])
    # then both entries come through with their sizes, modes and mtimes
    assert [(name, attrs.size, attrs.mtime) for name, attrs in entries] == [  # type: ignore[attr-defined]
        ("ACK_1.xml", 10, 1_700_000_000), ("Å.xml", 20, 1_700_000_000)]


def test_a_server_that_hangs_mid_batch_fails_it_at_the_deadline_and_recovers(
    sshd_factory: Callable[[], SshdServer], open_sftp: OpenSftp
) -> None:
    # given a connection in use, then a server that stops answering
    server = sshd_factory()
    transport = open_sftp(server, server.root, operation_timeout="1s")
    transport.ensure_folders([ORDERS])
    server.pause_sessions()
    items = [(f"ORDER_{n}_1.xml", f"t{n}", b"x" * 5_000) for n in range(300)]
    # when a batch is staged, then every file fails as unreachable at the deadline
    results = transport.stage_many(ORDERS, items)
    assert all(isinstance(result, PartnerUnreachable) for result in results)
    assert "no answer within 1s" in str(results[0])
    # and once the server answers again, the same batch goes through on a new connection
    server.resume_sessions()
    again = transport.stage_many(ORDERS, items)
    assert again == [f"{ORDERS}/{name}.{token}.part" for name, token, _ in items]
    assert server.log.read_text().count("Accepted publickey") == 2
