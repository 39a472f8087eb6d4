"""Several daemons on one journal: a PostgreSQL schema of their own, partner folders on
disk, and bridges built the way ``filebridge run`` builds them.

The journal fixtures (``database``: SQLite and PostgreSQL; ``postgresql_database``) are
the journal suite's own. PostgreSQL is required: missing, these tests skip locally and
fail in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filebridge.bridge import Bridge
from filebridge.clock import Clock
from filebridge.config import BridgeConfig, config_from_dict
from tests.journal.conftest import (  # noqa: F401 - fixtures shared with the journal suite
    JournalDatabase,
    database,
    postgres_server,
    postgresql_database,
    sqlite_database,
)

FAST = {"settle_time": "0s", "poll_interval": "1s", "backoff_initial": "1s",
        "backoff_max": "2s", "max_attempts": 50}


def bridge_config(tmp_path: Path, journal_url: str, partners: dict[str, dict[str, Any]],
                  **sections: Any) -> BridgeConfig:
    """A config whose partners are local folders under ``tmp_path`` (``root`` relative)."""
    raw: dict[str, Any] = {
        "journal": {"url": journal_url},
        "defaults": dict(FAST),
        "partners": {name: {"transport": "local", "root": f"./drop/{name}", **table}
                     for name, table in partners.items()},
        **sections,
    }
    return config_from_dict(raw, tmp_path / "filebridge.toml")


class Bridges:
    """Every bridge a test opens, closed after it (a daemon each, in one process)."""

    def __init__(self) -> None:
        self.opened: list[Bridge] = []

    def open(self, config: BridgeConfig, clock: Clock | None = None) -> Bridge:
        bridge = Bridge(config, clock=clock)
        self.opened.append(bridge)
        return bridge

    def close_all(self) -> None:
        for bridge in self.opened:
            bridge.close()


@pytest.fixture
def bridges() -> Iterator[Bridges]:
    opened = Bridges()
    yield opened
    opened.close_all()


@pytest.fixture
def pg_url(postgresql_database: JournalDatabase) -> str:  # noqa: F811 - the shared fixture
    """The URL of a fresh PostgreSQL schema (``?options=-c search_path=...``)."""
    return postgresql_database.url
