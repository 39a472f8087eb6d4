"""The local-folder fixtures shared by the local transport's test modules (the memory
and SFTP modules define their own ``transport``, ``peer`` and ``root``, which win)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filebridge.transports.local import LocalTransport
from tests.transports.contract import LocalPeer


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "partner"
    root.mkdir()
    return root


@pytest.fixture
def transport(root: Path) -> Iterator[LocalTransport]:
    transport = LocalTransport(root)
    yield transport
    transport.close()


@pytest.fixture
def peer(root: Path) -> LocalPeer:
    return LocalPeer(root)
