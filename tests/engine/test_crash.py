"""kill -9 at random moments loses nothing, sends nothing twice, leaves no partial file."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.config import load_config
from filebridge.model import FINAL_STATES, OrderState
from filebridge.partner_sim import PICKED_UP_DIR, SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_order

ORDERS = 200
CONFIG = """\
[journal]
url = "sqlite:///journal.db"

[defaults]
settle_time = "0s"
poll_interval = "1s"
backoff_initial = "1s"
backoff_max = "2s"
max_attempts = 50

[daemon]
tick = "0.05s"
lease = "2s"

[partners.hauler]
transport = "local"
root = "./drop"
"""

DONE = FINAL_STATES | {OrderState.REJECTED}


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "filebridge", "--config", str(config), "run", "--quiet"],
            stdout=out, stderr=out, cwd=config.parent)


def caught_up(backend: Bridge, root: Path) -> bool:
    """Every delivery journalled and every answer read. An order can finish (its
    answers applied) while a killed daemon's claims still hold a step of it: its
    delivery's record, or an ack it had claimed; the next daemon finishes those once
    the claims expire ([daemon] lease)."""
    delivered = sum(1 for r in backend.exchanges(last=20 * ORDERS)
                    if r.direction == "out" and r.status == "ok")
    unread = [name for folder in ("from_partner/acks", "from_partner/results")
              for name in os.listdir(root / "drop" / folder) if not name.endswith(".part")]
    return delivered >= ORDERS and not unread


@pytest.mark.slow
def test_kill_9_while_200_orders_flow(tmp_path: Path) -> None:
    config_path = tmp_path / "filebridge.toml"
    config_path.write_text(CONFIG)
    config = load_config(config_path)
    backend = Bridge(config)
    partner = SimulatedPartner(open_transport(config.partners["hauler"], config),
                               config.partners["hauler"], reject_share=0.1)
    policy = config.partners["hauler"]
    partner.transport.ensure_folders([policy.orders_dir, *policy.inbound_dirs])
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)  # a failure names its seed: CRASH_SEED=<seed> replays it
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config_path, log)
    submitted = 0
    kills = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            # the backend keeps submitting while the daemon works and dies
            for _ in range(rng.randint(10, 30)):
                if submitted < ORDERS:
                    submitted += 1
                    backend.submit(make_order(f"ORD-{submitted:04d}"), partner="hauler")
            partner.step()
            time.sleep(rng.uniform(0.02, 0.3))
            # at least three kills, most of them while orders still flow: the first
            # ones come sooner, whatever the machine's speed
            if kills < 6 and rng.random() < (0.6 if kills < 3 else 0.35):
                daemon.send_signal(signal.SIGKILL)
                daemon.wait()
                kills += 1
                daemon = start_daemon(config_path, log)
            states = backend.status()["partners"]["hauler"]
            settled = sum(states.get(s.value, 0) for s in DONE) == ORDERS
            if submitted == ORDERS and settled and kills >= 3 and caught_up(backend, tmp_path):
                break
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert kills >= 3, f"the run must have been killed several times (seed {seed})"
    status = backend.status()["partners"]["hauler"]
    assert sum(status.get(s.value, 0) for s in DONE) == ORDERS, (
        seed, status, log.read_text()[-3000:])

    picked = tmp_path / "drop" / PICKED_UP_DIR
    names = sorted(os.listdir(picked))
    # every order delivered exactly once: one file each, no "~2" copies from a re-send
    assert names == [f"ORDER_ORD-{n:04d}_1.xml" for n in range(1, ORDERS + 1)], seed
    # no partial file under a final name anywhere in the partner's orders folder
    leftovers = os.listdir(tmp_path / "drop/to_partner/orders")
    assert all(name.endswith(".part") for name in leftovers), leftovers
    for number in range(1, ORDERS + 1):
        order_id = f"ORD-{number:04d}"
        data = (picked / f"ORDER_{order_id}_1.xml").read_bytes()
        ok = [r for r in backend.exchanges(last=10, order_id=order_id)
              if r.direction == "out" and r.status == "ok"]
        # the journal agrees with the folder: one delivery, same bytes
        assert len(ok) == 1 and ok[0].sha256 == hashlib.sha256(data).hexdigest(), (
            seed, order_id, backend.journal.timeline(order_id),
            backend.exchanges(last=10, order_id=order_id))
        row = backend.journal.get_order(order_id)
        assert row is not None and row.file_content == data
        assert row.order == make_order(order_id)
        acks = [r for r in backend.exchanges(last=10, order_id=order_id)
                if r.direction == "in" and r.document == "ack" and r.status == "ok"]
        assert len(acks) == 1, (seed, order_id, backend.journal.timeline(order_id),
                                backend.exchanges(last=10, order_id=order_id))
    backend.close()
