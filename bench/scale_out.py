"""Throughput of 1, 2 and 3 daemons sharing one PostgreSQL journal and one partner.

Each round gets a fresh PostgreSQL schema and a fresh local partner folder, starts N
``filebridge run`` daemons (separate processes, as in production) and waits for their
heartbeats, then measures two things:

- dispatch: 5,000 orders are committed in one ``submit_many``; the clock runs until
  every one of them is sent (file published, journalled);
- ingest: the partner's 5,000 acknowledgements (written beforehand into a folder of
  its own) are renamed into acks_dir in one go; the clock runs until every order is
  acknowledged.

Printed as orders per second and the ratio to one daemon. The daemons, PostgreSQL and
this script share the machine's CPUs: on a small machine the ratio says more about the
cores than about filebridge.

    python bench/scale_out.py [--orders 5000] [--daemons 1 2 3]
        [--url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from filebridge.bridge import Bridge
from filebridge.config import load_config
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_order

STAGED_ACKS = "partner_side/staged_acks"
CONFIG = """\
[journal]
url = "{url}"

[defaults]
settle_time = "0s"
poll_interval = "1s"

[daemon]
tick = "0.2s"

[partners.loopback]
transport = "local"
root = "./drop"
"""


@dataclass
class Round:
    daemons: int
    dispatch_s: float
    ingest_s: float


def schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-c%20search_path%3D{schema}"


def wait_for(what: str, done: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def measure(base_url: str, daemons: int, orders: int, workdir: Path) -> Round:
    schema = f"fb_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    config_path = workdir / "filebridge.toml"
    config_path.write_text(CONFIG.format(url=schema_url(base_url, schema)))
    config = load_config(config_path)
    backend = Bridge(config)
    log = (workdir / "daemons.log").open("ab")
    procs = [subprocess.Popen(
        [sys.executable, "-m", "filebridge", "--config", str(config_path), "run", "--quiet"],
        stdout=log, stderr=log, cwd=workdir) for _ in range(daemons)]
    try:
        wait_for("heartbeats", lambda: len(backend.journal.daemons()) == daemons, 60)

        def count(*states: str) -> int:
            counts = backend.journal.count_by_state().get("loopback", {})
            return sum(counts.get(state, 0) for state in states)

        batch = [make_order(f"ORD-{n:05d}") for n in range(orders)]
        started = time.perf_counter()
        backend.submit_many(batch, partner="loopback")
        wait_for("dispatch", lambda: count("sent", "picked_up") == orders)
        dispatch_s = time.perf_counter() - started

        policy = config.partners["loopback"]
        answering = SimulatedPartner(
            open_transport(policy, config), policy.model_copy(update={"acks_dir": STAGED_ACKS}),
            reject_share=0.0)
        answering.step()
        staged = workdir / "drop" / STAGED_ACKS
        acks_dir = workdir / "drop" / policy.acks_dir
        names = sorted(os.listdir(staged))
        started = time.perf_counter()
        for name in names:
            os.rename(staged / name, acks_dir / name)
        wait_for("ingest", lambda: count("acknowledged") == orders)
        ingest_s = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        log.close()
        backend.close()
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return Round(daemons, dispatch_s, ingest_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--url", default=os.environ.get(
        "FILEBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    rounds = []
    for count in args.daemons:
        with tempfile.TemporaryDirectory(prefix="filebridge-scale-") as tmp:
            rounds.append(measure(args.url, count, args.orders, Path(tmp)))
    base = rounds[0]
    print(f"{args.orders} orders, loopback partner, one PostgreSQL journal, "
          f"{os.cpu_count()} CPUs")
    print(f"{'daemons':>7}  {'dispatch/s':>10}  {'ratio':>5}  {'ingest/s':>9}  {'ratio':>5}")
    for result in rounds:
        dispatch = args.orders / result.dispatch_s
        ingest = args.orders / result.ingest_s
        print(f"{result.daemons:>7}  {dispatch:>10.0f}  "
              f"{dispatch / (args.orders / base.dispatch_s):>5.2f}  {ingest:>9.0f}  "
              f"{ingest / (args.orders / base.ingest_s):>5.2f}")


if __name__ == "__main__":
    main()
