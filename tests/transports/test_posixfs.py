"""The file-system primitives: no-overwrite renames, permission hints, and kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from filebridge.errors import FileAlreadyExists, RemoteFileMissing
from filebridge.transports import posixfs
from filebridge.transports.base import is_ignored_name
from filebridge.transports.local import LocalTransport
from tests.transports.contract import ACKS, ERRORS, ORDERS, LocalPeer


class TestPermissionHint:
    def test_the_hint_names_owner_group_mode_and_the_fix(self) -> None:
        hint = posixfs.permission_hint("write", "to_partner/orders", owner_uid=1001,
                                       owner_gid=1001, mode=0o40750, uid=4242, gids={4242})
        assert hint.startswith("cannot write to_partner/orders: owned by uid 1001")
        assert "group 1001" in hint and "mode 0750" in hint and "uid 4242" in hint
        assert re.search(r"add it to group 1001( \(\S+\))?, and chmod g\+w$", hint), hint

    def test_the_hint_for_a_member_of_the_group_is_to_grant_the_group(self) -> None:
        hint = posixfs.permission_hint("read", "from_partner/acks/ACK_1.xml", owner_uid=1001,
                                       owner_gid=1001, mode=0o100600, uid=4242,
                                       gids={4242, 1001})
        assert hint.endswith("give the group that right (chmod g+r)")


# -- never overwrite, never half-write ------------------------------------------------
class TestRenaming:
    def test_rename_noreplace_leaves_a_taken_name_alone(self, tmp_path: Path) -> None:
        (tmp_path / "new").write_bytes(b"new")
        (tmp_path / "old").write_bytes(b"old")
        fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(FileExistsError):
                posixfs.rename_noreplace(fd, "new", fd, "old")
            posixfs.rename_noreplace(fd, "new", fd, "free")
        finally:
            os.close(fd)
        assert (tmp_path / "old").read_bytes() == b"old"
        assert sorted(os.listdir(tmp_path)) == ["free", "old"]

    def test_the_hard_link_fallback_keeps_the_same_promise(self, tmp_path: Path) -> None:
        (tmp_path / "new").write_bytes(b"new")
        (tmp_path / "old").write_bytes(b"old")
        fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(FileExistsError):
                posixfs.link_noreplace(fd, "new", fd, "old")
            posixfs.link_noreplace(fd, "new", fd, "free")
        finally:
            os.close(fd)
        assert (tmp_path / "old").read_bytes() == b"old"
        assert (tmp_path / "free").read_bytes() == b"new"
        assert sorted(os.listdir(tmp_path)) == ["free", "old"]


CRASH_AT_RENAME = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from filebridge.transports import posixfs
    from filebridge.transports.local import LocalTransport

    transport = LocalTransport(Path(sys.argv[1]))
    calls = 0

    def kill_at_rename(frame, event, arg):
        global calls
        if event == "call" and frame.f_code is posixfs.rename_noreplace.__code__:
            calls += 1
            if calls == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    sys.setprofile(kill_at_rename)
    exec(sys.argv[3])
""")


def run_until_killed(root: Path, at_rename: int, code: str) -> None:
    """Run ``code`` with ``transport`` in a child and kill -9 it as it enters its
    ``at_rename``-th no-overwrite rename."""
    child = subprocess.run([sys.executable, "-c", CRASH_AT_RENAME, str(root), str(at_rename),
                            code], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr


class TestKillSafety:
    def test_a_kill_between_write_and_rename_leaves_only_a_complete_part_file(
            self, root: Path) -> None:
        data = b"<OrderInstruction/>" * 10_000
        run_until_killed(root, 1, f"transport.put_atomic({ORDERS!r}, 'ORDER_1_1.xml', "
                                  f"b'<OrderInstruction/>' * 10_000)")

        [left] = os.listdir(root / ORDERS)
        assert left.startswith("ORDER_1_1.xml.") and left.endswith(".part")
        assert is_ignored_name(left)
        assert (root / ORDERS / left).read_bytes() == data  # fsynced before the rename

        transport = LocalTransport(root)
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", data)
        assert transport.read(f"{ORDERS}/ORDER_1_1.xml", len(data)) == data

    def test_a_kill_between_reason_and_move_never_overwrites_on_retry(
            self, root: Path, peer: LocalPeer) -> None:
        peer.write(f"{ACKS}/ACK_1.xml", b"<broken")
        # the first no-overwrite rename puts the reason file in place, the second the file
        run_until_killed(root, 2, f"transport.move({ACKS + '/ACK_1.xml'!r}, {ERRORS!r}, 'first')")
        assert peer.names(ERRORS) == ["ACK_1.xml.reason.txt"]
        assert peer.names(ACKS) == ["ACK_1.xml"]

        new_path = LocalTransport(root).move(f"{ACKS}/ACK_1.xml", ERRORS, "second")

        assert peer.read(new_path) == b"<broken"
        assert peer.read(new_path + ".reason.txt") == b"second"
        assert peer.read(f"{ERRORS}/ACK_1.xml.reason.txt") == b"first"

    def test_a_failed_put_removes_its_temp_file(self, transport: LocalTransport,
                                                peer: LocalPeer) -> None:
        peer.write(f"{ORDERS}/ORDER_1_1.xml", b"theirs")
        with pytest.raises(FileAlreadyExists):
            transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"ours")
        with pytest.raises(RemoteFileMissing):
            transport.move(f"{ORDERS}/ORDER_9_1.xml", ERRORS, "reason")
        assert peer.names(ORDERS) == ["ORDER_1_1.xml"]
        assert peer.names(ERRORS) == []
