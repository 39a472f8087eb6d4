"""Partner sharding (``[daemon] partners``) and what ``status`` says about the daemons."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from filebridge.cli.main import _register, cli
from filebridge.journal.presence import ALIVE_WITHIN, DaemonRecord
from filebridge.model import OrderState
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_order
from tests.multi.conftest import Bridges, bridge_config

PARTNERS: dict[str, dict[str, str]] = {"north": {}, "south": {}}
HOUR = timedelta(hours=1)


def orders_in(tmp_path: Path, partner: str) -> list[str]:
    return sorted(os.listdir(tmp_path / "drop" / partner / "to_partner" / "orders"))


def test_each_daemon_serves_only_its_partners(
    tmp_path: Path, pg_url: str, bridges: Bridges
) -> None:
    # given a backend submitting to two partners, and one daemon for each
    backend = bridges.open(bridge_config(tmp_path, pg_url, PARTNERS))
    for partner in PARTNERS:
        for number in (1, 2):
            backend.submit(make_order(f"{partner.upper()}-{number}"), partner=partner)
    north = bridges.open(bridge_config(tmp_path, pg_url, PARTNERS,
                                       daemon={"partners": ["north"]}))
    south = bridges.open(bridge_config(tmp_path, pg_url, PARTNERS,
                                       daemon={"partners": ["south"]}))

    # when the north daemon runs, only north's orders go out
    assert north.run_once().sent == 2
    assert orders_in(tmp_path, "north") == ["ORDER_NORTH-1_1.xml", "ORDER_NORTH-2_1.xml"]
    assert not (tmp_path / "drop" / "south").exists()
    assert backend.status()["partners"]["south"] == {OrderState.QUEUED.value: 2}

    # and south's answers are left to the south daemon
    assert south.run_once().sent == 2
    config = south.config
    answering = SimulatedPartner(open_transport(config.partners["south"], config),
                                 config.partners["south"], reject_share=0.0)
    assert answering.step() == 2
    assert north.run_once().received == 0
    assert backend.status()["partners"]["south"] == {OrderState.SENT.value: 2}
    assert south.run_once().received == 2
    assert backend.status()["partners"]["south"] == {OrderState.ACKNOWLEDGED.value: 2}

    # and status shows both daemons with the partners each serves
    served = {tuple(d["partners"] or ()) for d in backend.status()["daemons"] if d["alive"]}
    assert served == {("north",), ("south",)}


def test_status_shows_daemons_alive_and_what_they_hold(
    tmp_path: Path, pg_url: str, bridges: Bridges
) -> None:
    # given a running daemon that holds two claimed orders
    config_path = tmp_path / "filebridge.toml"
    config_path.write_text(
        f'[journal]\nurl = "{pg_url}"\n\n[partners.hauler]\ntransport = "local"\n'
        f'root = "./drop/hauler"\n', encoding="utf-8")
    daemon = bridges.open(bridge_config(tmp_path, pg_url, {"hauler": {}}))
    daemon.submit(make_order("ORD-1"), partner="hauler")
    assert daemon.run_once().sent == 1  # its first tick writes the heartbeat
    for number in (2, 3):
        daemon.submit(make_order(f"ORD-{number}"), partner="hauler")
    now = datetime.now(UTC)
    held = daemon.journal.claim_due_orders("hauler", now, 10, daemon.claimant,
                                           now + timedelta(hours=1))
    assert len(held) == 2
    # and one on another host that was killed an hour ago
    daemon.journal.record_heartbeat(DaemonRecord(
        id="old-host:4242:dead00", host="old-host", pid=4242, started_at=now - 2 * HOUR,
        last_seen=now - ALIVE_WITHIN - HOUR, partners=["hauler"]))

    # when an operator asks
    _register()
    runner = CliRunner()

    def status(*args: str) -> str:
        return runner.invoke(cli, ["--config", str(config_path), "status", *args],
                             catch_exceptions=False).stdout

    summary = json.loads(status("--json"))
    human = status()

    # then the contract's keys are there, and the daemons beside them
    assert set(summary) == {"partners", "alerts_open", "alerts_unacknowledged", "overdue",
                            "daemons"}
    running, dead = summary["daemons"]
    assert running["id"] == daemon.claimant and running["alive"] is True
    assert running["pid"] == os.getpid() and running["partners"] is None
    assert (running["claimed_orders"], running["claimed_files"]) == (2, 0)
    assert dead["id"] == "old-host:4242:dead00" and dead["alive"] is False
    assert dead["partners"] == ["hauler"] and dead["claimed_orders"] == 0
    assert "Daemons" in human and daemon.claimant in human
    assert "gone" in human and "alive" in human

    # and a daemon that stops cleanly leaves the list
    daemon.close()
    after = json.loads(status("--json"))
    assert [d["id"] for d in after["daemons"]] == ["old-host:4242:dead00"]
