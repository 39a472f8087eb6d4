"""How long a local acknowledgement takes from landing in acks_dir to ``acknowledged``.

The partner's side writes each ack the way the partner guide asks (temp name, then
rename into acks_dir); the clock stops when the bridge's ``acknowledged`` callback
fires, which is after the journal commit. The daemon runs ``serve()`` as in
production, woken by watchdog. Prints the median and p99 over N acks.

    python -m bench.local_ack_latency [--acks 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from filebridge.bridge import Bridge
from filebridge.config import config_from_dict
from filebridge.engine.events import OrderEvent
from tests.factories import make_ack, make_order


def measure(acks: int, workdir: Path) -> list[float]:
    config = config_from_dict({
        "journal": {"url": f"sqlite:///{workdir / 'journal.db'}"},
        "daemon": {"tick": "1s"},
        "partners": {"hauler": {"transport": "local", "root": str(workdir / "drop")}},
    }, workdir / "filebridge.toml")
    bridge = Bridge(config)
    for number in range(acks):
        bridge.submit(make_order(f"ORD-{number:05d}"))
    while bridge.run_once().sent:
        pass
    arrived = threading.Event()
    stamps: dict[str, float] = {}

    def on_ack(event: OrderEvent) -> None:
        stamps[event.order_id] = time.perf_counter()
        arrived.set()

    bridge.on("acknowledged", on_ack)
    daemon = threading.Thread(target=bridge.serve, daemon=True)
    daemon.start()
    acks_dir = workdir / "drop" / config.partners["hauler"].acks_dir
    latencies = []
    for number in range(acks):
        order_id = f"ORD-{number:05d}"
        order = bridge.journal.get_order(order_id).order  # type: ignore[union-attr]
        data = make_ack(order).to_xml()
        temp = acks_dir / f".ack-{number}.part"
        temp.write_bytes(data)
        arrived.clear()
        start = time.perf_counter()
        os.rename(temp, acks_dir / f"ACK_{order_id}.xml")
        if not arrived.wait(10):
            raise RuntimeError(f"ack for {order_id} not applied within 10 s")
        latencies.append(stamps[order_id] - start)
    bridge.stop()
    daemon.join()
    bridge.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--acks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="filebridge-bench-") as tmp:
        latencies = sorted(measure(args.acks, Path(tmp)))
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"local ack latency over {len(latencies)} acks: "
          f"median {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
