"""Three ``filebridge run`` daemons, one PostgreSQL journal, one partner folder, 2,000
orders, and one daemon killed with SIGKILL while it holds work: every order is sent
once, every answer ingested once, every alert level notified once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from filebridge.bridge import Bridge
from filebridge.config import load_config
from filebridge.model import (
    FINAL_STATES,
    AlertKind,
    Direction,
    ExchangeRecord,
    ExchangeStatus,
    OrderState,
)
from filebridge.partner_sim import PICKED_UP_DIR, SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_order
from tests.servers.http import WebhookServer

ORDERS = 2000
DAEMONS = 3
DONE = FINAL_STATES | {OrderState.REJECTED}
CONFIG = """\
[journal]
url = "{url}"

[defaults]
settle_time = "0s"
poll_interval = "1s"
backoff_initial = "1s"
backoff_max = "2s"
max_attempts = 50

[daemon]
tick = "0.05s"
lease = "3s"

[partners.hauler]
transport = "local"
root = "./drop"

[escalation]
levels = [ {{ after = "0s", notify = ["webhook:{hook}/level1"] }},
           {{ after = "2s", notify = ["webhook:{hook}/level2"] }} ]

[notify.webhook]
timeout = "5s"
retries = 0
"""


def brief(records: list[ExchangeRecord]) -> str:
    """Records as one line each, for a failure message that shows them all."""
    return "\n".join(f"{r.id} {r.at:%H:%M:%S.%f} {r.direction.value} {r.document.value} "
                     f"{r.order_id} {r.path} {r.sha256} {r.status.value} {r.message_id}"
                     for r in records)


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "filebridge", "--config", str(config), "run", "--quiet"],
            stdout=out, stderr=out, cwd=config.parent)


class Database:
    """Reads the shared journal past the API: who holds what, right now."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url, autocommit=True)

    def value(self, sql: str, *params: object) -> int:
        row = self.connection.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def held_by(self, claimant: str) -> tuple[list[str], int, int]:
        """Orders, inbound files and alerts ``claimant`` holds under an unexpired lease."""
        orders = [row[0] for row in self.connection.execute(
            "SELECT order_id FROM orders WHERE claimed_by = %s AND claim_expires_at > now()",
            (claimant,)).fetchall()]
        files = self.value("SELECT COUNT(*) FROM inbound_claims WHERE claimed_by = %s "
                           "AND claim_expires_at > now()", claimant)
        alerts = self.value("SELECT COUNT(*) FROM alerts WHERE claimed_by = %s", claimant)
        return orders, files, alerts


def kill_while_holding_work(daemon: subprocess.Popen[bytes], backend: Bridge,
                            database: Database) -> tuple[str, list[str], int] | None:
    """Freeze the daemon; if it holds orders or files (and is not in the middle of a
    notification, the one step that is at-least-once by design), kill it there. Returns
    its id and what it held, or None after letting it go on."""
    ids = [d.id for d in backend.journal.daemons() if d.pid == daemon.pid]
    if not ids:
        return None
    os.kill(daemon.pid, signal.SIGSTOP)
    orders, files, alerts = database.held_by(ids[0])
    if (orders or files) and not alerts:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        return ids[0], orders, files
    os.kill(daemon.pid, signal.SIGCONT)
    return None


@pytest.mark.slow
def test_three_daemons_share_2000_orders_and_one_is_killed(
    tmp_path: Path, pg_url: str, webhook_server: WebhookServer
) -> None:
    config_path = tmp_path / "filebridge.toml"
    config_path.write_text(CONFIG.format(url=pg_url, hook=webhook_server.url))
    config = load_config(config_path)
    policy = config.partners["hauler"]
    partner = SimulatedPartner(open_transport(policy, config), policy, reject_share=0.1)
    partner.transport.ensure_folders([policy.orders_dir, *policy.inbound_dirs])
    backend = Bridge(config)
    database = Database(pg_url)
    log = tmp_path / "daemons.log"
    daemons = [start_daemon(config_path, log) for _ in range(DAEMONS)]
    killed: tuple[str, list[str], int] | None = None
    try:
        # given three daemons at work, 2,000 orders, and a partner sending broken files
        backend.submit_many([make_order(f"ORD-{n:04d}") for n in range(1, ORDERS + 1)],
                            partner="hauler")
        for number in range(3):
            partner.drop_bad_file(f"ACK_broken_{number}.xml")
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            partner.step()
            states = backend.status()["partners"]["hauler"]
            finished = sum(states.get(state.value, 0) for state in DONE)
            # when one daemon is killed while it holds work, a fifth of the way in
            if killed is None and ORDERS - states.get("queued", 0) >= ORDERS // 5:
                killed = kill_while_holding_work(daemons[0], backend, database)
            escalated = [a.level for a in backend.alert_list()
                         if a.kind is AlertKind.QUARANTINED_FILE]
            if killed and finished == ORDERS and escalated == [2]:
                break
            time.sleep(0.05)
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=30)
    tail = log.read_text()[-3000:]

    # then every order reached its end, though one daemon died holding some of them
    assert killed is not None, "the daemon was never caught holding work"
    victim, held_orders, held_files = killed
    status = backend.status()["partners"]["hauler"]
    assert sum(status.get(state.value, 0) for state in DONE) == ORDERS, (status, tail)
    # what it held was taken over: nothing of it is still claimed, by anyone
    assert held_orders or held_files
    assert database.value("SELECT COUNT(*) FROM orders WHERE claimed_by IS NOT NULL") == 0
    for order_id in held_orders:
        assert backend.get(order_id).state in DONE

    # every order delivered exactly once: one file each, no "~2" copy of a second send
    picked = sorted(os.listdir(tmp_path / "drop" / PICKED_UP_DIR))
    assert picked == [f"ORDER_ORD-{n:04d}_1.xml" for n in range(1, ORDERS + 1)]
    leftovers = os.listdir(tmp_path / "drop" / policy.orders_dir)
    assert all(name.endswith(".part") for name in leftovers), leftovers
    records = backend.exchanges(last=10 * ORDERS)
    sent = Counter(r.order_id for r in records
                   if r.direction is Direction.OUT and r.status is ExchangeStatus.OK)
    assert len(sent) == ORDERS
    assert set(sent.values()) == {1}, brief([r for r in records if sent[r.order_id] > 1])
    # every answer ingested once: one ok record per ack and per result, each file
    # archived once under its own name
    answers = Counter((r.order_id, r.document.value) for r in records
                      if r.direction is Direction.IN and r.status is ExchangeStatus.OK)
    assert set(answers.values()) == {1}, brief(
        [r for r in records if answers[(r.order_id, r.document.value)] > 1])
    assert sum(1 for _, kind in answers if kind == "ack") == ORDERS
    results = sum(status.get(s.value, 0) for s in FINAL_STATES)
    assert sum(1 for _, kind in answers if kind == "result") == results
    archived = os.listdir(tmp_path / "drop" / policy.archive_dir)
    assert len(archived) == len(answers) and not [n for n in archived if "~" in n]
    assert not [r for r in records if r.status is ExchangeStatus.DUPLICATE]

    # one notification per alert and level, across the three daemons
    calls = Counter((request.path, request.json["id"]) for request in webhook_server.requests)
    assert set(calls.values()) == {1}, calls
    [quarantine] = [a for a in backend.alert_list() if a.kind is AlertKind.QUARANTINED_FILE]
    assert calls[("/level1", quarantine.id)] == calls[("/level2", quarantine.id)] == 1
    assert quarantine.count == 3

    # and status names the daemon that died among those that ran
    assert victim in {d.id for d in backend.journal.daemons()}
    assert backend.journal.claims_held(datetime.now(UTC)).get(victim, (0, 0))[0] == 0
    database.connection.close()
    backend.close()


STALLING = 300
STALL_CONFIG = """\
[journal]
url = "{url}"

[defaults]
settle_time = "0s"

[daemon]
tick = "0.05s"
lease = "1s"

[partners.hauler]
transport = "local"
root = "./drop"
"""


@pytest.mark.slow
def test_a_daemon_stalled_past_its_lease_sends_and_journals_nothing_twice(
    tmp_path: Path, pg_url: str
) -> None:
    # given a daemon frozen (a VM pause, a long GC) while it holds a batch of orders
    config_path = tmp_path / "filebridge.toml"
    config_path.write_text(STALL_CONFIG.format(url=pg_url))
    backend = Bridge(load_config(config_path))
    database = Database(pg_url)
    backend.submit_many([make_order(f"ORD-{n:04d}") for n in range(1, STALLING + 1)],
                        partner="hauler")
    log = tmp_path / "daemons.log"
    stalled = start_daemon(config_path, log)
    other: subprocess.Popen[bytes] | None = None
    try:
        frozen: list[str] = []
        frozen_id = ""
        deadline = time.monotonic() + 30
        while not frozen and time.monotonic() < deadline:
            ids = [d.id for d in backend.journal.daemons() if d.pid == stalled.pid]
            if ids:
                os.kill(stalled.pid, signal.SIGSTOP)
                frozen_id, frozen = ids[0], database.held_by(ids[0])[0]
                if not frozen:
                    os.kill(stalled.pid, signal.SIGCONT)
            time.sleep(0.005)
        assert frozen, "the daemon was never caught holding orders"

        # when its lease runs out, another daemon takes the orders over and sends them
        # (all but any the frozen one has locked in an open transaction)
        other = start_daemon(config_path, log)
        wait_until(lambda: backend.status()["partners"]["hauler"] == {"sent": STALLING}, 5)
        # and then the frozen one wakes up and carries on where it stopped
        os.kill(stalled.pid, signal.SIGCONT)
        wait_until(lambda: backend.status()["partners"]["hauler"] == {"sent": STALLING}, 30)
        wait_until(lambda: not database.held_by(frozen_id)[0], 10)
    finally:
        for daemon in (stalled, other):
            if daemon is not None and daemon.poll() is None:
                daemon.send_signal(signal.SIGCONT)
                daemon.send_signal(signal.SIGTERM)
        for daemon in (stalled, other):
            if daemon is not None:
                daemon.wait(timeout=30)

    # then every order is out once, journalled once, and nothing is claimed any more
    assert backend.status()["partners"]["hauler"] == {"sent": STALLING}, log.read_text()[-2000:]
    files = sorted(os.listdir(tmp_path / "drop" / "to_partner" / "orders"))
    assert [name for name in files if not name.endswith(".part")] == [
        f"ORDER_ORD-{n:04d}_1.xml" for n in range(1, STALLING + 1)]
    records = backend.exchanges(last=10 * STALLING)
    assert Counter((r.order_id, r.status) for r in records) == Counter(
        {(f"ORD-{n:04d}", ExchangeStatus.OK): 1 for n in range(1, STALLING + 1)})
    assert database.value("SELECT COUNT(*) FROM orders WHERE claimed_by IS NOT NULL") == 0
    database.connection.close()
    backend.close()
