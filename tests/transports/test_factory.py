"""open_transport: each partner gets the transport its config names, rooted where it says."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from filebridge.clock import ManualClock
from filebridge.config import BridgeConfig, config_from_dict
from filebridge.errors import ConfigError
from filebridge.transports.factory import open_transport
from filebridge.transports.local import LocalTransport
from filebridge.transports.memory import MemoryStore, MemoryTransport
from tests.support import free_port
from tests.transports.contract import ALL_FOLDERS, ORDERS


def config_with(tmp_path: Path, **partners: dict[str, Any]) -> BridgeConfig:
    return config_from_dict({"partners": partners}, tmp_path / "filebridge.toml")


def test_a_local_root_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = config_with(tmp_path, depot={"transport": "local", "root": "drop/depot"})

    transport = open_transport(config.partner("depot"), config)
    try:
        transport.ensure_folders(ALL_FOLDERS)
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")
    finally:
        transport.close()

    assert (tmp_path / "drop" / "depot" / ORDERS / "ORDER_1_1.xml").read_bytes() == b"x"


def test_a_local_partner_on_a_network_share_gets_the_polling_observer(tmp_path: Path) -> None:
    config = config_with(tmp_path, share={"transport": "local", "root": str(tmp_path / "nfs"),
                                          "polling_observer": True},
                         disk={"transport": "local", "root": str(tmp_path / "disk")})

    share = open_transport(config.partner("share"), config)
    disk = open_transport(config.partner("disk"), config)

    assert isinstance(share, LocalTransport) and isinstance(disk, LocalTransport)
    assert (share.root, share.polling) == (tmp_path / "nfs", True)
    assert (disk.root, disk.polling) == (tmp_path / "disk", False)


def test_memory_partners_with_one_root_share_their_folders(tmp_path: Path) -> None:
    name = f"factory-{uuid.uuid4().hex}"
    config = config_with(tmp_path, bridge_side={"transport": "memory", "root": name},
                         partner_side={"transport": "memory", "root": name})
    clock = ManualClock()
    try:
        ours = open_transport(config.partner("bridge_side"), config, clock)
        theirs = open_transport(config.partner("partner_side"), config)

        ours.put_atomic(ORDERS, "ORDER_1_1.xml", b"x")

        assert isinstance(theirs, MemoryTransport)
        assert [f.name for f in theirs.list(ORDERS)] == ["ORDER_1_1.xml"]
        assert theirs.list(ORDERS)[0].mtime == clock.now().timestamp()
        assert MemoryStore.named(name).read(f"{ORDERS}/ORDER_1_1.xml") == b"x"
    finally:
        MemoryStore.forget(name)


def sftp_partner(tmp_path: Path) -> dict[str, Any]:
    return {"transport": "sftp", "host": "127.0.0.1", "port": free_port(),
            "username": "partner", "key_file": "keys/id_ed25519",
            "known_hosts": "keys/known_hosts", "root": "/drop"}


def test_an_sftp_partner_gets_the_sftp_transport_without_connecting(tmp_path: Path) -> None:
    from filebridge.transports.sftp import SftpTransport

    config = config_with(tmp_path, remote=sftp_partner(tmp_path))

    transport = open_transport(config.partner("remote"), config)  # nothing listens there
    try:
        assert isinstance(transport, SftpTransport)
        assert transport.root == "/drop"
    finally:
        transport.close()


def test_without_the_sftp_adapter_local_partners_still_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "filebridge.transports.sftp", None)  # as if not installed
    config = config_with(tmp_path, remote=sftp_partner(tmp_path),
                         depot={"transport": "local", "root": "drop"})

    with pytest.raises(ConfigError, match=r"partners\.remote\.transport: 'sftp' is not available"):
        open_transport(config.partner("remote"), config)
    assert isinstance(open_transport(config.partner("depot"), config), LocalTransport)
