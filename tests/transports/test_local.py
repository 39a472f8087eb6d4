"""The local transport: the contract, watchdog wakes, permissions, links, and kill -9."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from filebridge.errors import (
    PartnerUnreachable,
    TransportError,
)
from filebridge.transports.local import LocalTransport
from tests.transports.contract import (
    ACKS,
    ALL_FOLDERS,
    ARCHIVE,
    ERRORS,
    ORDERS,
    LocalPeer,
    TransportContract,
)


def _permissions_bind_us() -> bool:
    """False for root (or anyone with CAP_DAC_OVERRIDE): mode bits cannot refuse us."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"x")
        probe.chmod(0)
        try:
            probe.read_bytes()
        except PermissionError:
            return True
        return False


PERMISSIONS_BIND_US = _permissions_bind_us()
BYPASS_REASON = ("this process reads and writes whatever the mode bits say (root); "
                 "a refusal cannot be produced here; test_posixfs tests the hint itself")
EVENT_WAIT = 5.0  # seconds to wait for a watchdog event before failing




class TestLocalTransport(TransportContract):
    """Every guarantee of the port, on a real folder."""


# -- watching ------------------------------------------------------------------------
class Wakes:
    """Collects ``wake(path, renamed)`` calls from watchdog's thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, renamed: bool) -> None:
        with self._lock:
            self.calls.append((path, renamed))

    def paths(self) -> set[str]:
        with self._lock:
            return {path for path, _ in self.calls}

    def wait_for(self, wanted: tuple[str, bool]) -> None:
        """Poll until the call arrived; fail after EVENT_WAIT seconds."""
        deadline = time.monotonic() + EVENT_WAIT
        while time.monotonic() < deadline:
            with self._lock:
                if wanted in self.calls:
                    return
            time.sleep(0.02)
        pytest.fail(f"no wake {wanted} within {EVENT_WAIT}s; got {self.calls}")


@pytest.fixture(params=[False, True], ids=["inotify", "polling"])
def watched(request: pytest.FixtureRequest, root: Path) -> Iterator[tuple[LocalTransport, Wakes]]:
    transport = LocalTransport(root, polling=request.param, poll_interval=0.05)
    transport.ensure_folders(ALL_FOLDERS)
    wakes = Wakes()
    transport.watch([ACKS, "from_partner/results"], wakes)
    yield transport, wakes
    transport.close()


class TestWatch:
    def test_a_file_written_in_place_wakes_as_not_renamed(
            self, watched: tuple[LocalTransport, Wakes], peer: LocalPeer) -> None:
        transport, wakes = watched
        assert transport.watches

        peer.write(f"{ACKS}/ACK_1.xml", b"<Acknowledgement/>")

        wakes.wait_for((f"{ACKS}/ACK_1.xml", False))

    def test_a_rename_into_place_wakes_as_renamed_and_the_temp_name_never_wakes(
            self, watched: tuple[LocalTransport, Wakes], root: Path, peer: LocalPeer) -> None:
        _, wakes = watched
        peer.write(f"{ACKS}/.ACK_2.xml.uploading", b"x")
        peer.write(f"{ACKS}/ACK_2.xml.filepart", b"<Acknowledgement/>")
        # A file written after the temp file: once it wakes, the watcher (even a polling
        # one, between two scans) has seen the temp file under its temp name.
        peer.write(f"{ACKS}/ACK_1.xml", b"<Acknowledgement/>")
        wakes.wait_for((f"{ACKS}/ACK_1.xml", False))

        os.rename(root / ACKS / "ACK_2.xml.filepart", root / ACKS / "ACK_2.xml")

        wakes.wait_for((f"{ACKS}/ACK_2.xml", True))
        assert wakes.paths() == {f"{ACKS}/ACK_1.xml", f"{ACKS}/ACK_2.xml"}

    def test_only_watched_folders_wake(self, watched: tuple[LocalTransport, Wakes],
                                       peer: LocalPeer) -> None:
        _, wakes = watched
        peer.write(f"{ORDERS}/ORDER_1_1.xml", b"not watched")
        peer.write("from_partner/results/RESULT_1.xml", b"watched")

        wakes.wait_for(("from_partner/results/RESULT_1.xml", False))
        assert f"{ORDERS}/ORDER_1_1.xml" not in wakes.paths()

    def test_a_wake_that_raises_does_not_stop_the_watcher(self, root: Path,
                                                           peer: LocalPeer) -> None:
        transport = LocalTransport(root)
        transport.ensure_folders([ACKS])
        wakes = Wakes()

        def wake(path: str, renamed: bool) -> None:
            wakes(path, renamed)
            if path.endswith("ACK_1.xml"):
                raise RuntimeError("engine queue broken")

        try:
            transport.watch([ACKS], wake)
            peer.write(f"{ACKS}/ACK_1.xml", b"x")
            wakes.wait_for((f"{ACKS}/ACK_1.xml", False))
            peer.write(f"{ACKS}/ACK_2.xml", b"x")
            wakes.wait_for((f"{ACKS}/ACK_2.xml", False))
            assert transport.watches
        finally:
            transport.close()

    def test_close_stops_watching_and_is_safe_twice(self, root: Path) -> None:
        transport = LocalTransport(root)
        transport.ensure_folders([ACKS])
        transport.watch([ACKS], Wakes())
        assert transport.watches

        transport.close()
        transport.close()

        assert not transport.watches

    def test_a_missing_folder_is_left_to_rescans_instead_of_failing(
            self, root: Path, caplog: pytest.LogCaptureFixture) -> None:
        transport = LocalTransport(root)
        try:
            transport.watch(["from_partner/nowhere"], Wakes())
            assert not transport.watches
            assert "not watching from_partner/nowhere" in caplog.text
        finally:
            transport.close()


# -- permissions ---------------------------------------------------------------------
class TestPermissions:
    def test_created_root_and_folders_are_closed_to_others(self, tmp_path: Path) -> None:
        root = tmp_path / "new" / "partner"
        transport = LocalTransport(root)

        checks = transport.ensure_folders(ALL_FOLDERS)

        assert all(c.ok and c.detail.startswith("created") for c in checks), checks
        assert stat.S_IMODE(root.stat().st_mode) & 0o077 == 0
        for folder in [*ALL_FOLDERS, "to_partner", "from_partner"]:
            mode = stat.S_IMODE((root / folder).stat().st_mode)
            assert mode & 0o700 == 0o700, (folder, oct(mode))
            assert mode & 0o027 == 0, (folder, oct(mode))

    def test_written_files_are_readable_by_the_group_only(
            self, transport: LocalTransport, root: Path) -> None:
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
        mode = stat.S_IMODE((root / ORDERS / "ORDER_1_1.xml").stat().st_mode)
        assert mode & 0o600 == 0o600
        assert mode & 0o137 == 0

    def test_a_write_probe_failure_is_reported_with_owner_and_mode(
            self, transport: LocalTransport, root: Path) -> None:
        if not PERMISSIONS_BIND_US:
            pytest.skip(BYPASS_REASON)
        transport.ensure_folders([ORDERS])
        (root / ORDERS).chmod(0o550)
        try:
            checks = {c.name: c for c in transport.check([ORDERS])}
        finally:
            (root / ORDERS).chmod(0o750)
        assert not checks[ORDERS].ok
        assert f"cannot write {ORDERS}: owned by uid {os.getuid()}" in checks[ORDERS].detail
        assert "mode 0550" in checks[ORDERS].detail

    def test_an_unreadable_file_is_refused_with_a_clear_message(
            self, transport: LocalTransport, peer: LocalPeer, root: Path) -> None:
        if not PERMISSIONS_BIND_US:
            pytest.skip(BYPASS_REASON)
        peer.write(f"{ACKS}/ACK_1.xml", b"x")
        (root / ACKS / "ACK_1.xml").chmod(0)
        with pytest.raises(TransportError, match=rf"cannot read {ACKS}/ACK_1.xml: owned by"):
            transport.read(f"{ACKS}/ACK_1.xml", 100)

    def test_check_lists_the_root_first(self, transport: LocalTransport, root: Path) -> None:
        checks = transport.check([ORDERS])
        assert [c.name for c in checks] == ["root", ORDERS]
        assert str(root) in checks[0].detail
        assert checks[1].detail.endswith("write probe ok")
        assert os.listdir(root / ORDERS) == []


# -- links, odd files, a missing root ---------------------------------------------------
class TestRefusals:
    def test_a_file_link_pointing_outside_the_root_is_neither_listed_nor_read(
            self, transport: LocalTransport, peer: LocalPeer, root: Path,
            tmp_path: Path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("not for partners")
        peer.write(f"{ACKS}/ACK_1.xml", b"x")
        (root / ACKS / "ACK_2.xml").symlink_to(secret)

        assert [f.name for f in transport.list(ACKS)] == ["ACK_1.xml"]
        with pytest.raises(TransportError, match="symbolic link"):
            transport.read(f"{ACKS}/ACK_2.xml", 1000)

    def test_a_folder_link_is_not_followed_even_inside_the_root(
            self, transport: LocalTransport, root: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "ACK_1.xml").write_bytes(b"x")
        (root / "from_partner").mkdir()
        (root / ACKS).symlink_to(outside)
        (root / "from_partner" / "inside").symlink_to(root / "from_partner")

        for folder in (ACKS, "from_partner/inside"):
            with pytest.raises(TransportError, match="symbolic link"):
                transport.list(folder)
            with pytest.raises(TransportError):
                transport.put_atomic(folder, "ORDER_1_1.xml", b"x")
        with pytest.raises(TransportError):
            transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE)
        with pytest.raises(TransportError):
            transport.move(f"{ERRORS}/none.xml", ACKS)

        assert os.listdir(outside) == ["ACK_1.xml"]

    def test_a_fifo_is_not_listed_and_reading_it_does_not_hang(
            self, transport: LocalTransport, root: Path) -> None:
        (root / ACKS).mkdir(parents=True)
        os.mkfifo(root / ACKS / "ACK_1.xml")

        assert transport.list(ACKS) == []
        with pytest.raises(TransportError, match="not a regular file"):
            transport.read(f"{ACKS}/ACK_1.xml", 1000)

    def test_a_huge_file_is_refused_without_being_read(
            self, transport: LocalTransport, root: Path) -> None:
        (root / ACKS).mkdir(parents=True)
        huge = root / ACKS / "ACK_1.xml"
        huge.touch()
        try:
            os.truncate(huge, 1 << 40)  # a sparse terabyte: reading it whole cannot succeed
        except OSError as exc:
            pytest.skip(f"this file system cannot hold a sparse 1 TiB file: {exc}")

        with pytest.raises(TransportError, match="larger than the limit of 10000000"):
            transport.read(f"{ACKS}/ACK_1.xml", 10_000_000)

    def test_a_missing_root_is_partner_unreachable(self, tmp_path: Path) -> None:
        transport = LocalTransport(tmp_path / "not-mounted")
        operations: list[Callable[[], object]] = [
            lambda: transport.list(ACKS),
            lambda: transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x"),
            lambda: transport.read(f"{ACKS}/ACK_1.xml", 100),
            lambda: transport.move(f"{ACKS}/ACK_1.xml", ARCHIVE),
            lambda: transport.exists(f"{ORDERS}/ORDER_1_1.xml"),
        ]
        for operation in operations:
            with pytest.raises(PartnerUnreachable, match="not-mounted"):
                operation()
        assert not (tmp_path / "not-mounted").exists()

    def test_a_root_that_cannot_be_created_is_partner_unreachable(self, tmp_path: Path) -> None:
        (tmp_path / "a-file").write_text("x")
        transport = LocalTransport(tmp_path / "a-file" / "partner")
        with pytest.raises(PartnerUnreachable, match="cannot be created"):
            transport.ensure_folders([ORDERS])

    def test_a_closed_transport_refuses_work(self, transport: LocalTransport) -> None:
        transport.close()
        with pytest.raises(TransportError, match="closed"):
            transport.list("")
