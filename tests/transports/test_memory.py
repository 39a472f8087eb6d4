"""The memory transport: the contract, shared stores, synchronous wakes, injected faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from filebridge.errors import (
    FileAlreadyExists,
    HostKeyMismatch,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.transports.base import is_ignored_name, safe_name
from filebridge.transports.memory import MemoryStore, MemoryTransport
from tests.transports.contract import ACKS, ARCHIVE, ORDERS, TransportContract


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def transport(store: MemoryStore) -> Iterator[MemoryTransport]:
    transport = MemoryTransport(store)
    yield transport
    transport.close()


@pytest.fixture
def peer(store: MemoryStore) -> MemoryStore:
    return store


class TestMemoryTransport(TransportContract):
    """Every guarantee of the port, on the dict-backed store."""


class TestSharedStores:
    def test_transports_on_one_name_see_the_same_folders(self) -> None:
        try:
            bridge_side = MemoryTransport.shared("depot-shared")
            other = MemoryTransport.shared("depot-shared")
            elsewhere = MemoryTransport.shared("depot-elsewhere")

            bridge_side.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")

            assert other.exists(f"{ORDERS}/ORDER_1_1.xml")
            assert MemoryStore.named("depot-shared").names(ORDERS) == ["ORDER_1_1.xml"]
            assert not elsewhere.exists(f"{ORDERS}/ORDER_1_1.xml")
        finally:
            MemoryStore.forget("depot-shared")
            MemoryStore.forget("depot-elsewhere")

    def test_forget_gives_the_next_user_an_empty_store(self) -> None:
        MemoryTransport.shared("depot-forget").put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        MemoryStore.forget("depot-forget")
        assert MemoryStore.named("depot-forget").names(ORDERS) == []
        MemoryStore.forget()

    def test_mtime_comes_from_the_injected_clock(self, store: MemoryStore) -> None:
        now = [1_800_000_000.0]
        store.clock = lambda: now[0]
        transport = MemoryTransport(store, clock=lambda: 42.0)

        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        store.write(f"{ACKS}/ACK_1.xml", b"y")
        now[0] += 5
        store.write(f"{ACKS}/ACK_2.xml", b"z")

        assert [f.mtime for f in transport.list(ORDERS)] == [42.0]
        assert [f.mtime for f in transport.list(ACKS)] == [1_800_000_000.0, 1_800_000_005.0]

    def test_a_move_keeps_the_files_mtime(self, store: MemoryStore,
                                          transport: MemoryTransport) -> None:
        store.write(f"{ACKS}/ACK_1.xml", b"x", mtime=1234.0)
        new_path = transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE)
        assert [(f.path, f.mtime) for f in transport.list(ARCHIVE)] == [(new_path, 1234.0)]


class TestWatch:
    def test_wakes_synchronously_for_arrivals_in_watched_folders(
            self, store: MemoryStore, transport: MemoryTransport) -> None:
        woken: list[tuple[str, bool]] = []
        transport.watch([ACKS, "from_partner/results"], lambda p, r: woken.append((p, r)))

        store.write(f"{ACKS}/ACK_1.xml", b"written in place")
        store.write(f"{ACKS}/ACK_2.xml.part", b"uploading")
        store.rename(f"{ACKS}/ACK_2.xml.part", f"{ACKS}/ACK_2.xml")
        store.write(f"{ORDERS}/ORDER_1_1.xml", b"not watched")
        store.write(f"{ACKS}/.hidden", b"ignored name")

        assert transport.watches
        assert woken == [(f"{ACKS}/ACK_1.xml", False), (f"{ACKS}/ACK_2.xml", True)]

    def test_a_put_or_move_into_a_watched_folder_is_a_rename(
            self, store: MemoryStore, transport: MemoryTransport) -> None:
        woken: list[tuple[str, bool]] = []
        transport.watch([ARCHIVE], lambda p, r: woken.append((p, r)))
        store.write(f"{ACKS}/ACK_1.xml", b"x")

        transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE, "why")
        transport.put_atomic(ARCHIVE, "NOTE.txt", b"y")

        assert woken == [(f"{ARCHIVE}/ACK_1.xml", True), (f"{ARCHIVE}/NOTE.txt", True)]

    def test_a_failing_wake_does_not_break_the_writer(
            self, store: MemoryStore, transport: MemoryTransport) -> None:
        def wake(path: str, renamed: bool) -> None:
            raise RuntimeError("engine queue broken")

        transport.watch([ACKS], wake)
        store.write(f"{ACKS}/ACK_1.xml", b"x")
        assert store.read(f"{ACKS}/ACK_1.xml") == b"x"

    def test_close_stops_the_wakes(self, store: MemoryStore,
                                   transport: MemoryTransport) -> None:
        woken: list[str] = []
        transport.watch([ACKS], lambda p, r: woken.append(p))
        transport.close()

        store.write(f"{ACKS}/ACK_1.xml", b"x")

        assert woken == []
        assert not transport.watches


class TestFaults:
    def test_fail_next_fails_once_then_works(self, store: MemoryStore,
                                             transport: MemoryTransport) -> None:
        transport.fail_next("put_atomic", TransportError("disk full"))

        with pytest.raises(TransportError, match="disk full"):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        assert store.names(ORDERS) == []

        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        assert store.names(ORDERS) == ["ORDER_1_1.xml"]

    def test_fail_after_lands_the_file_but_reports_failure(
            self, store: MemoryStore, transport: MemoryTransport) -> None:
        transport.fail_next("put_atomic", PartnerUnreachable("connection lost"), after=True)

        with pytest.raises(PartnerUnreachable):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"ours")
        with pytest.raises(FileAlreadyExists):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"ours")

        assert store.read(f"{ORDERS}/ORDER_1_1.xml") == b"ours"

    def test_fail_next_counts_times_per_operation(self, store: MemoryStore,
                                                  transport: MemoryTransport) -> None:
        store.write(f"{ACKS}/ACK_1.xml", b"x")
        transport.fail_next("read", RemoteFileMissing("gone"), times=2)

        for _ in range(2):
            with pytest.raises(RemoteFileMissing):
                transport.read(f"{ACKS}/ACK_1.xml", 100)
            assert transport.list(ACKS)  # other operations are unaffected

        assert transport.read(f"{ACKS}/ACK_1.xml", 100) == b"x"

    def test_an_unreachable_transport_refuses_every_operation(
            self, store: MemoryStore, transport: MemoryTransport) -> None:
        store.write(f"{ACKS}/ACK_1.xml", b"x")
        transport.unreachable = True

        for operation in (lambda: transport.put_atomic(ORDERS, "O.xml", b"x"),
                          lambda: transport.list(ACKS),
                          lambda: transport.read(f"{ACKS}/ACK_1.xml", 10),
                          lambda: transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE),
                          lambda: transport.exists(f"{ACKS}/ACK_1.xml"),
                          lambda: transport.ensure_folders([ORDERS]),
                          lambda: transport.check([ORDERS])):
            with pytest.raises(PartnerUnreachable):
                operation()

        transport.unreachable = False
        assert transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE) == f"{ARCHIVE}/ACK_1.xml"

    def test_store_faults_hit_every_connection_but_not_the_partner(
            self, store: MemoryStore) -> None:
        first, second = MemoryTransport(store), MemoryTransport(store)
        store.unreachable = True

        with pytest.raises(PartnerUnreachable):
            first.list("")
        with pytest.raises(PartnerUnreachable):
            second.list("")
        store.write(f"{ACKS}/ACK_1.xml", b"the partner still writes")

        store.unreachable = False
        store.fail_next("list", HostKeyMismatch("host key changed"))
        with pytest.raises(HostKeyMismatch):
            second.list(ACKS)
        assert [f.name for f in first.list(ACKS)] == ["ACK_1.xml"]

    def test_an_unknown_operation_name_is_refused(self, transport: MemoryTransport) -> None:
        with pytest.raises(ValueError, match="unknown operation"):
            transport.fail_next("upload")

    def test_a_closed_transport_refuses_work(self, transport: MemoryTransport) -> None:
        transport.close()
        with pytest.raises(TransportError, match="closed"):
            transport.list("")


class TestNameHelpers:
    """The port's helpers that every transport and the engine rely on."""

    @pytest.mark.parametrize("name", [
        "ACK_1.xml.part", "ACK_1.xml.a1b2c3.part", "x.tmp", "x.filepart", ".hidden",
        ".filebridge-check.ab12.part", "ACK_1.xml.reason.txt",
    ])
    def test_temp_dot_and_reason_files_are_ignored(self, name: str) -> None:
        assert is_ignored_name(name)

    @pytest.mark.parametrize("name", [
        "ACK_1.xml", "RESULT_1.csv", "part", "ACK.partial.xml", "reason.txt", "tmp",
    ])
    def test_documents_are_not_ignored(self, name: str) -> None:
        assert not is_ignored_name(name)

    @pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "nul\x00"])
    def test_safe_name_refuses_names_that_leave_the_folder(self, name: str) -> None:
        with pytest.raises(ValueError):
            safe_name(name)

    def test_safe_name_keeps_ordinary_names(self) -> None:
        assert safe_name("ORDER_Ærø-1.2_1.xml") == "ORDER_Ærø-1.2_1.xml"
