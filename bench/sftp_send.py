"""1,000 orders end to end over SFTP, against OpenSSH's ``sftp`` uploading the same files.

filebridge: ``submit_many`` through the API (validate, render and XSD-check each file,
journal), then dispatch (claim, stage every temp over the SSH connection's channels,
journal, publish by rename, journal), timed from the submit to the last file under its
final name.
OpenSSH: ``sftp -b`` putting the same pre-rendered files, each to a ``.part`` name
and then ``rename``. Runs alternate; the median ratio is printed (below 1.0 means
filebridge was faster).

    python -m bench.sftp_send  [--orders 1000] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.sftp_common import alternate, sftp_batch, sftp_connect_only, start_server
from filebridge.bridge import Bridge
from filebridge.config import config_from_dict
from filebridge.model import Order
from tests.factories import make_order
from tests.servers.sshd import SshdServer


def orders(count: int, tag: str) -> list[Order]:
    return [make_order(f"B{tag}-{number:05d}") for number in range(count)]


def run_filebridge(server: SshdServer, count: int, tag: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="fb-send-"))
    root = server.root / f"fb-{tag}"
    root.mkdir()
    config = config_from_dict({
        "journal": {"url": f"sqlite:///{work / 'journal.db'}"},
        "partners": {"bench": server.partner(root=str(root))},
    }, work / "filebridge.toml")
    batch = orders(count, tag)
    bridge = Bridge(config)
    bridge.run_once()  # connect and create folders outside the timed part, as a daemon has
    start = time.perf_counter()
    bridge.submit_many(batch, partner="bench")
    sent = 0
    while sent < count:
        sent += bridge.run_once().sent
    elapsed = time.perf_counter() - start
    bridge.close()
    landed = list((root / "to_partner/orders").iterdir())
    assert len(landed) == count, f"{len(landed)} files landed, expected {count}"
    shutil.rmtree(work)
    return elapsed


def run_openssh(server: SshdServer, count: int, tag: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="sftp-send-"))
    remote = server.root / f"ssh-{tag}"
    remote.mkdir()
    commands = []
    for order in orders(count, tag):
        name = f"ORDER_{order.order_id}_1.xml"
        (work / name).write_bytes(order.to_xml())
        commands += [f"put {name} {remote}/{name}.part",
                     f"rename {remote}/{name}.part {remote}/{name}"]
    elapsed = sftp_batch(server, commands, work)
    assert len(list(remote.iterdir())) == count
    shutil.rmtree(work)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile one filebridge run")
    args = parser.parse_args()
    server = start_server()
    try:
        if args.profile:
            import cProfile
            import pstats

            cProfile.runctx("run_filebridge(server, args.orders, 'prof')", globals(),
                            {"server": server, "args": args}, "/tmp/sftp_send.prof")
            pstats.Stats("/tmp/sftp_send.prof").sort_stats("cumulative").print_stats(30)
            return
        counter = iter(range(10_000))
        scratch = Path(tempfile.mkdtemp(prefix="sftp-connect-"))
        alternate(args.rounds,
                  lambda: run_filebridge(server, args.orders, f"{next(counter)}"),
                  lambda: run_openssh(server, args.orders, f"{next(counter)}"),
                  f"send {args.orders} orders",
                  lambda: sftp_connect_only(server, scratch))
        shutil.rmtree(scratch)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
