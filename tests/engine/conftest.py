"""A bridge on the memory transport with a manual clock, and the partner's side of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from filebridge.bridge import Bridge
from filebridge.clock import ManualClock
from filebridge.config import BridgeConfig, config_from_dict
from filebridge.model import Document, Order
from filebridge.transports.memory import MemoryStore


@dataclass
class World:
    """The bridge under test, its clock, and the partner's folders (a memory store)."""

    bridge: Bridge
    clock: ManualClock
    store: MemoryStore
    config: BridgeConfig
    events: list[Any] = field(default_factory=list)

    @property
    def partner(self) -> str:
        return next(iter(self.config.partners))

    def drop(self, folder: str, name: str, data: bytes) -> None:
        """The partner uploads a file the proper way: temp name, then rename."""
        self.store.write(f"{folder}/{name}.part", data)
        self.store.rename(f"{folder}/{name}.part", f"{folder}/{name}")

    def drop_document(self, document: Document, name: str | None = None) -> str:
        folder = "from_partner/acks" if document.kind == "ack" else "from_partner/results"
        name = name or f"{document.kind}_{document.message_id}.xml"
        self.drop(folder, name, document.to_xml())
        return f"{folder}/{name}"

    def files(self, folder: str) -> list[str]:
        return sorted(self.store.names(folder))

    def sent_order(self, order_id: str) -> Order:
        return self.bridge.journal.get_order(order_id).order  # type: ignore[union-attr]


def build_world(tmp_path: Path, **partner: Any) -> World:
    root = f"mem-{uuid.uuid4().hex}"
    raw: dict[str, Any] = {
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.db'}"},
        "defaults": {"settle_time": "2s", "backoff_initial": "5s", "backoff_max": "1m",
                     "max_attempts": 3, "ack_timeout": "15m", "result_timeout": "48h",
                     "unreachable_after": "10m", "poll_interval": "30s"},
        "partners": {"hauler": {"transport": "memory", "root": root, **partner}},
        "escalation": {"levels": [{"after": "0m", "notify": ["log:alerts"]}]},
    }
    config = config_from_dict(raw, tmp_path / "filebridge.toml")
    clock = ManualClock()
    bridge = Bridge(config, clock=clock)
    world = World(bridge, clock, MemoryStore.named(root), config)
    for event in ("sent", "picked_up", "acknowledged", "rejected", "completed",
                  "not_completed", "send_failed", "alert"):
        bridge.on(event, world.events.append)
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    yield w
    w.bridge.close()
    MemoryStore.forget()
