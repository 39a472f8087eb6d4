"""The contract every Transport keeps, as one test class that each transport's tests subclass.

A subclass provides two fixtures:

``transport``
    The ``Transport`` under test, rooted at an empty partner root, closed by the
    fixture afterwards.
``peer``
    A second, independent handle on the *same* folders acting as the partner: it drops
    files the way a partner's client would (overwriting, no temp names), removes them,
    and shows what the partner sees. It follows the ``Peer`` protocol below, with paths
    relative to the same root. ``LocalPeer`` serves any transport whose root is a
    folder on this host (local, and sftp against a loopback sshd whose chroot is a
    local folder); ``MemoryStore`` is the peer of ``MemoryTransport``.

    class TestSftpTransport(TransportContract):
        @pytest.fixture
        def transport(self, sshd): ...  # SftpTransport on the sshd user's root
        @pytest.fixture
        def peer(self, sshd): return LocalPeer(sshd.root)

The class has no ``Test`` prefix, so pytest collects it only through subclasses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pytest

from filebridge.errors import FileAlreadyExists, RemoteFileMissing, TransportError
from filebridge.transports.base import Transport, is_ignored_name

ORDERS = "to_partner/orders"
ACKS = "from_partner/acks"
ARCHIVE = "from_partner/archive"
ERRORS = "from_partner/error"
ALL_FOLDERS = [ORDERS, ACKS, "from_partner/results", ARCHIVE, ERRORS]
SOME_MTIME = 1_700_000_000  # whole seconds: SFTP carries mtimes as integers


class Peer(Protocol):
    """The partner's side of the folders; see the module docstring."""

    def write(self, path: str, data: bytes) -> None:
        """Create or replace a file, creating its folders."""

    def read(self, path: str) -> bytes: ...
    def remove(self, path: str) -> None: ...
    def set_mtime(self, path: str, mtime: float) -> None: ...
    def names(self, folder: str) -> list[str]:
        """Every entry directly in ``folder``, sorted; [] when the folder is missing."""
        ...

    def is_dir(self, path: str) -> bool: ...
    def exists(self, path: str) -> bool: ...


class LocalPeer:
    """The partner's side for a root that is a folder on this host."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def write(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def set_mtime(self, path: str, mtime: float) -> None:
        os.utime(self.root / path, (mtime, mtime))

    def names(self, folder: str) -> list[str]:
        target = self.root / folder
        return sorted(os.listdir(target)) if target.is_dir() else []

    def is_dir(self, path: str) -> bool:
        return (self.root / path).is_dir()

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.root / path)


class TransportContract:
    """Behaviour the engine relies on, whatever sits below the port."""

    # -- put_atomic
    def test_put_then_list_and_read_show_exactly_the_bytes(
            self, transport: Transport, peer: Peer) -> None:
        data = b"<OrderInstruction>\r\n\x00\xff bytes kept as they are</OrderInstruction>\n"
        path = transport.put_atomic(ORDERS, "ORDER_A-1_1.xml", data)

        assert path == f"{ORDERS}/ORDER_A-1_1.xml"
        [listed] = transport.list(ORDERS)
        assert (listed.path, listed.name, listed.folder, listed.size) == (
            path, "ORDER_A-1_1.xml", ORDERS, len(data))
        assert transport.read(path, max_size=len(data)) == data
        assert peer.read(path) == data

    def test_put_creates_a_missing_folder(self, transport: Transport, peer: Peer) -> None:
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]

    def test_put_to_a_taken_name_refuses_and_keeps_the_original(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ORDERS}/ORDER_1_1.xml", b"the partner's copy")

        with pytest.raises(FileAlreadyExists):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"ours")

        assert peer.read(f"{ORDERS}/ORDER_1_1.xml") == b"the partner's copy"
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]  # and no .part left behind

    def test_put_twice_refuses_the_second(self, transport: Transport, peer: Peer) -> None:
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"first")
        with pytest.raises(FileAlreadyExists):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"second")
        assert peer.read(f"{ORDERS}/ORDER_1_1.xml") == b"first"

    def test_put_leaves_no_temp_file_behind(self, transport: Transport, peer: Peer) -> None:
        for number in range(3):
            transport.put_atomic(ORDERS, f"ORDER_{number}_1.xml", b"x" * 100_000)
        assert peer.names(ORDERS) == ["ORDER_0_1.xml", "ORDER_1_1.xml", "ORDER_2_1.xml"]

    def test_put_of_an_empty_file_and_a_unicode_name(self, transport: Transport) -> None:
        path = transport.put_atomic(ORDERS, "ORDRE_Ærø_1.csv", b"")
        assert transport.read(path, max_size=0) == b""
        assert [f.name for f in transport.list(ORDERS)] == ["ORDRE_Ærø_1.csv"]

    # -- list
    def test_list_reports_size_and_mtime(self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"12345")
        peer.set_mtime(f"{ACKS}/ACK_1.xml", SOME_MTIME)

        [listed] = transport.list(ACKS)

        assert listed.size == 5
        assert listed.mtime == pytest.approx(SOME_MTIME, abs=1)

    def test_list_shows_temp_and_dot_files_which_the_engine_skips(
            self, transport: Transport, peer: Peer) -> None:
        names = ["ACK_1.xml", ".hidden", "ACK_2.xml.filepart", "ACK_3.xml.tmp",
                 "ACK_4.xml.a1b2.part", "ACK_0.xml.reason.txt"]
        for name in names:
            peer.write(f"{ACKS}/{name}", b"x")

        listed = {f.name for f in transport.list(ACKS)}

        assert listed == set(names)
        assert {name for name in listed if not is_ignored_name(name)} == {"ACK_1.xml"}

    def test_list_shows_only_files_directly_in_the_folder(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"x")
        peer.write(f"{ACKS}/nested/ACK_2.xml", b"x")
        assert [f.path for f in transport.list(ACKS)] == [f"{ACKS}/ACK_1.xml"]

    def test_list_of_a_missing_folder_is_remote_file_missing(
            self, transport: Transport) -> None:
        with pytest.raises(RemoteFileMissing):
            transport.list("from_partner/nowhere")

    # -- read
    def test_read_of_a_missing_file_is_remote_file_missing(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/other.xml", b"x")
        with pytest.raises(RemoteFileMissing):
            transport.read(f"{ACKS}/ACK_gone.xml", max_size=1000)

    def test_read_refuses_a_file_over_max_size(self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/big.xml", b"x" * 1001)
        peer.write(f"{ACKS}/fits.xml", b"x" * 1000)

        with pytest.raises(TransportError, match="1000") as refused:
            transport.read(f"{ACKS}/big.xml", max_size=1000)

        assert not isinstance(refused.value, RemoteFileMissing)
        assert transport.read(f"{ACKS}/fits.xml", max_size=1000) == b"x" * 1000

    # -- move
    def test_move_to_archive_without_reason(self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"ack")

        new_path = transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE)

        assert new_path == f"{ARCHIVE}/ACK_1.xml"
        assert peer.names(ACKS) == []
        assert peer.names(ARCHIVE) == ["ACK_1.xml"]
        assert peer.read(new_path) == b"ack"

    def test_move_to_error_writes_the_reason_beside_the_file(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"<broken")
        reason = "line 1: premature end of data — Status is missing\n"

        new_path = transport.move(f"{ACKS}/ACK_1.xml", ERRORS, reason)

        assert new_path == f"{ERRORS}/ACK_1.xml"
        assert peer.names(ERRORS) == ["ACK_1.xml", "ACK_1.xml.reason.txt"]
        assert peer.read(f"{ERRORS}/ACK_1.xml.reason.txt").decode("utf-8") == reason
        assert peer.read(new_path) == b"<broken"

    def test_move_on_a_name_clash_keeps_both_files(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ARCHIVE}/ACK_1.xml", b"archived yesterday")
        peer.write(f"{ACKS}/ACK_1.xml", b"arrived today")

        new_path = transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE)

        assert new_path != f"{ARCHIVE}/ACK_1.xml"
        assert new_path.startswith(f"{ARCHIVE}/ACK_1") and new_path.endswith(".xml")
        assert not is_ignored_name(new_path.rsplit("/", 1)[1])
        assert peer.read(f"{ARCHIVE}/ACK_1.xml") == b"archived yesterday"
        assert peer.read(new_path) == b"arrived today"

    def test_move_on_a_clash_puts_the_reason_beside_the_moved_file(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ERRORS}/ACK_1.xml", b"old")
        peer.write(f"{ERRORS}/ACK_1.xml.reason.txt", b"old reason")
        peer.write(f"{ACKS}/ACK_1.xml", b"new")

        new_path = transport.move(f"{ACKS}/ACK_1.xml", ERRORS, "new reason")

        assert peer.read(new_path + ".reason.txt") == b"new reason"
        assert peer.read(f"{ERRORS}/ACK_1.xml.reason.txt") == b"old reason"
        assert len(peer.names(ERRORS)) == 4

    def test_move_of_a_missing_file_is_remote_file_missing(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ACKS}/other.xml", b"x")
        with pytest.raises(RemoteFileMissing):
            transport.move(f"{ACKS}/ACK_gone.xml", ERRORS, "reason")
        assert not any(name.endswith(".reason.txt") for name in peer.names(ERRORS))

    # -- exists
    def test_exists_until_the_partner_removes_the_file(
            self, transport: Transport, peer: Peer) -> None:
        path = transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        assert transport.exists(path)

        peer.remove(path)

        assert not transport.exists(path)
        assert not transport.exists("no/such/folder/ORDER_1_1.xml")

    # -- folders
    def test_ensure_folders_creates_missing_folders_and_reports_each(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ORDERS}/ORDER_1_1.xml", b"already there")

        checks = transport.ensure_folders(ALL_FOLDERS)

        assert [c.name for c in checks] == ALL_FOLDERS
        assert all(c.ok for c in checks), checks
        assert all(peer.is_dir(folder) for folder in ALL_FOLDERS)
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]
        assert transport.ensure_folders(ALL_FOLDERS) == transport.ensure_folders(ALL_FOLDERS)

    def test_check_reports_every_folder(self, transport: Transport, peer: Peer) -> None:
        checks = transport.check(ALL_FOLDERS)

        by_name = {c.name: c for c in checks}
        assert set(ALL_FOLDERS) <= set(by_name)
        assert all(by_name[folder].ok for folder in ALL_FOLDERS), checks
        assert all(not name.endswith(".part") for f in ALL_FOLDERS for name in peer.names(f))

    def test_a_folder_blocked_by_a_file_is_reported_not_ok(
            self, transport: Transport, peer: Peer) -> None:
        peer.write("from_partner/acks", b"a file where a folder should be")

        [check] = transport.ensure_folders([ACKS])

        assert (check.name, check.ok) == (ACKS, False)
        assert check.detail

    # -- safety
    @pytest.mark.parametrize("folder, name", [
        (ORDERS, "../escape.xml"), (ORDERS, "a/b.xml"), (ORDERS, ".."), (ORDERS, ""),
        (ORDERS, "back\\slash.xml"), ("../outside", "x.xml"), ("/etc", "x.xml"),
        ("to_partner/../../outside", "x.xml"),
    ])
    def test_put_refuses_unsafe_names_and_folders(
            self, transport: Transport, peer: Peer, folder: str, name: str) -> None:
        with pytest.raises(TransportError):
            transport.put_atomic(folder, name, b"x")
        assert peer.names("") == []

    @pytest.mark.parametrize("path", [
        "../outside.xml", "/etc/hostname", "from_partner/../../outside.xml", "", "acks/nul\x00",
    ])
    def test_read_move_exists_refuse_unsafe_paths(
            self, transport: Transport, peer: Peer, path: str) -> None:
        with pytest.raises(TransportError):
            transport.read(path, max_size=1000)
        with pytest.raises(TransportError):
            transport.move(path, ARCHIVE)
        with pytest.raises(TransportError):
            transport.exists(path)
        assert peer.names("") == []

    @pytest.mark.parametrize("folder", ["../outside", "/tmp", "from_partner/../../outside"])
    def test_move_refuses_an_unsafe_target_folder(
            self, transport: Transport, peer: Peer, folder: str) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"x")
        with pytest.raises(TransportError):
            transport.move(f"{ACKS}/ACK_1.xml", folder, "reason")
        assert peer.names("") == ["from_partner"]
        assert peer.names(ACKS) == ["ACK_1.xml"]

    # -- stage and publish (the engine's journalled two-step upload)
    def test_a_staged_file_is_only_a_temp_until_published(
            self, transport: Transport, peer: Peer) -> None:
        temp = transport.stage(ORDERS, "ORDER_1_1.xml", "tok1", b"complete")
        assert peer.names(ORDERS) == ["ORDER_1_1.xml.tok1.part"]
        assert temp == f"{ORDERS}/ORDER_1_1.xml.tok1.part"
        path = transport.publish(ORDERS, "ORDER_1_1.xml", "tok1")
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]
        assert peer.read(path) == b"complete"

    def test_staging_again_replaces_a_partial_temp(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ORDERS}/ORDER_1_1.xml.tok1.part", b"half")
        transport.stage(ORDERS, "ORDER_1_1.xml", "tok1", b"the whole file")
        transport.publish(ORDERS, "ORDER_1_1.xml", "tok1")
        assert peer.read(f"{ORDERS}/ORDER_1_1.xml") == b"the whole file"

    def test_publish_never_overwrites_and_keeps_the_temp(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ORDERS}/ORDER_1_1.xml", b"theirs")
        transport.stage(ORDERS, "ORDER_1_1.xml", "tok1", b"ours")
        with pytest.raises(FileAlreadyExists):
            transport.publish(ORDERS, "ORDER_1_1.xml", "tok1")
        assert peer.read(f"{ORDERS}/ORDER_1_1.xml") == b"theirs"
        transport.discard(ORDERS, "ORDER_1_1.xml", "tok1")
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]

    def test_publish_without_a_temp_says_it_is_missing(
            self, transport: Transport, peer: Peer) -> None:
        transport.ensure_folders([ORDERS])
        with pytest.raises(RemoteFileMissing):
            transport.publish(ORDERS, "ORDER_1_1.xml", "never-staged")
        assert peer.names(ORDERS) == []

    def test_bulk_stage_and_publish_give_one_result_per_file(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ORDERS}/ORDER_2_1.xml", b"taken")
        items = [(f"ORDER_{n}_1.xml", f"t{n}", f"order {n}".encode()) for n in range(1, 4)]
        assert all(isinstance(r, str) for r in transport.stage_many(ORDERS, items))
        results = transport.publish_many(ORDERS, [(name, token) for name, token, _ in items])
        assert results[0] == f"{ORDERS}/ORDER_1_1.xml"
        assert isinstance(results[1], FileAlreadyExists)
        assert results[2] == f"{ORDERS}/ORDER_3_1.xml"
        assert peer.read(f"{ORDERS}/ORDER_3_1.xml") == b"order 3"

    def test_bulk_stage_lands_files_of_every_size_whole(
            self, transport: Transport, peer: Peer) -> None:
        # sizes around the 32 KiB request size, and one above the 256 KiB pipeline limit
        sizes = [0, 1, 32_767, 32_768, 32_769, 100_000, 300_000]
        items = [(f"ORDERS_{size}.csv", f"t{size}", os.urandom(size)) for size in sizes]
        transport.ensure_folders([ORDERS])

        staged = transport.stage_many(ORDERS, items)
        published = transport.publish_many(ORDERS, [(name, token) for name, token, _ in items])

        assert staged == [f"{ORDERS}/{name}.{token}.part" for name, token, _ in items]
        assert published == [f"{ORDERS}/{name}" for name, _, _ in items]
        assert peer.names(ORDERS) == sorted(name for name, _, _ in items)
        for name, _, data in items:
            assert peer.read(f"{ORDERS}/{name}") == data

    def test_bulk_stage_creates_a_missing_folder(
            self, transport: Transport, peer: Peer) -> None:
        items = [(f"ORDER_{n}_1.xml", f"t{n}", b"x") for n in range(3)]

        staged = transport.stage_many("new/orders", items)

        assert all(isinstance(result, str) for result in staged)
        assert len(peer.names("new/orders")) == 3

    def test_bulk_read_gives_each_file_or_its_own_error_in_order(
            self, transport: Transport, peer: Peer) -> None:
        contents = {"empty.xml": b"", "small.xml": b"<ack/>", "chunk.xml": b"c" * 32_768,
                    "several.xml": os.urandom(100_001), "large.xml": os.urandom(300_000)}
        for name, data in contents.items():
            peer.write(f"{ACKS}/{name}", data)
        peer.write(f"{ACKS}/too-big.xml", b"x" * 400_001)
        paths = [f"{ACKS}/{name}" for name in
                 ["empty.xml", "small.xml", "gone.xml", "chunk.xml", "too-big.xml",
                  "several.xml", "large.xml"]]

        results = transport.read_many(paths, max_size=400_000)

        assert results[0] == b""
        assert results[1] == b"<ack/>"
        assert isinstance(results[2], RemoteFileMissing)
        assert results[3] == contents["chunk.xml"]
        assert isinstance(results[4], TransportError)
        assert not isinstance(results[4], RemoteFileMissing)
        assert results[5] == contents["several.xml"]
        assert results[6] == contents["large.xml"]

    def test_bulk_move_files_each_file_and_keeps_clashes_apart(
            self, transport: Transport, peer: Peer) -> None:
        for number in range(1, 5):
            peer.write(f"{ACKS}/ACK_{number}.xml", f"ack {number}".encode())
        peer.write(f"{ARCHIVE}/ACK_2.xml", b"archived yesterday")

        results = transport.move_many([
            (f"{ACKS}/ACK_1.xml", ARCHIVE, None),
            (f"{ACKS}/ACK_2.xml", ARCHIVE, None),
            (f"{ACKS}/ACK_gone.xml", ARCHIVE, None),
            (f"{ACKS}/ACK_3.xml", ERRORS, "not well-formed"),
            (f"{ACKS}/ACK_4.xml", ARCHIVE, None),
        ])

        assert results[0] == f"{ARCHIVE}/ACK_1.xml"
        assert isinstance(results[1], str) and results[1] != f"{ARCHIVE}/ACK_2.xml"
        assert peer.read(results[1]) == b"ack 2"
        assert peer.read(f"{ARCHIVE}/ACK_2.xml") == b"archived yesterday"
        assert isinstance(results[2], RemoteFileMissing)
        assert results[3] == f"{ERRORS}/ACK_3.xml"
        assert peer.read(f"{ERRORS}/ACK_3.xml.reason.txt") == b"not well-formed"
        assert results[4] == f"{ARCHIVE}/ACK_4.xml"
        assert peer.names(ACKS) == []

    # -- remove (archive housekeeping)
    def test_remove_deletes_a_file_and_refuses_a_folder(
            self, transport: Transport, peer: Peer) -> None:
        peer.write(f"{ARCHIVE}/ACK_1.xml", b"old")
        transport.remove(f"{ARCHIVE}/ACK_1.xml")
        assert peer.names(ARCHIVE) == []
        with pytest.raises(RemoteFileMissing):
            transport.remove(f"{ARCHIVE}/ACK_1.xml")
        with pytest.raises(TransportError):
            transport.remove("from_partner")

    def test_close_twice_is_fine(self, transport: Transport) -> None:
        transport.close()
        transport.close()
