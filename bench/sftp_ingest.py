"""1,000 ack files on an SFTP server ingested, against OpenSSH's ``sftp`` doing the I/O.

filebridge: one poll pass per tick until every ack is applied: list, download, parse
and XSD-validate, match to its order, journal, move to the archive. OpenSSH: ``sftp -b``
getting the same files and renaming each into an archive folder (no parsing, no
journal). Runs alternate; the median ratio is printed (below 1.0: filebridge faster).

    python -m bench.sftp_ingest  [--acks 1000] [--rounds 5] [--profile]
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
from tests.factories import make_ack, make_order
from tests.servers.sshd import SshdServer


def prepared_bridge(server: SshdServer, count: int, tag: str) -> tuple[Bridge, Path]:
    """A bridge whose ``count`` orders are sent, and an ack for each on the server."""
    work = Path(tempfile.mkdtemp(prefix="fb-ingest-"))
    root = server.root / f"fb-{tag}"
    root.mkdir()
    config = config_from_dict({
        "journal": {"url": f"sqlite:///{work / 'journal.db'}"},
        "defaults": {"settle_time": "0s"},
        "partners": {"bench": server.partner(root=str(root))},
    }, work / "filebridge.toml")
    bridge = Bridge(config)
    bridge.submit_many([make_order(f"I{tag}-{n:05d}") for n in range(count)], partner="bench")
    while bridge.run_once().sent:
        pass
    acks = root / "from_partner/acks"
    for number in range(count):
        order = bridge.journal.get_order(f"I{tag}-{number:05d}")
        assert order is not None
        (acks / f"ACK_{number:05d}.xml").write_bytes(make_ack(order.order).to_xml())
    return bridge, root


def run_filebridge(server: SshdServer, count: int, tag: str) -> float:
    bridge, root = prepared_bridge(server, count, tag)
    start = time.perf_counter()
    received = 0
    while received < count:
        received += bridge.run_once().received
    elapsed = time.perf_counter() - start
    archived = len(list((root / "from_partner/archive").iterdir()))
    assert archived == count, f"{archived} archived, expected {count}"
    bridge.close()
    return elapsed


def run_openssh(server: SshdServer, count: int, tag: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="sftp-ingest-"))
    remote = server.root / f"ssh-{tag}"
    (remote / "acks").mkdir(parents=True)
    (remote / "archive").mkdir()
    order = make_order("X")
    data = make_ack(order).to_xml()
    commands = []
    for number in range(count):
        name = f"ACK_{number:05d}.xml"
        (remote / "acks" / name).write_bytes(data)
        commands += [f"get {remote}/acks/{name} {name}",
                     f"rename {remote}/acks/{name} {remote}/archive/{name}"]
    elapsed = sftp_batch(server, commands, work)
    assert len(list((remote / "archive").iterdir())) == count
    shutil.rmtree(work)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--acks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile one filebridge run")
    args = parser.parse_args()
    server = start_server()
    try:
        if args.profile:
            import cProfile
            import pstats

            bridge, _ = prepared_bridge(server, args.acks, "prof")
            profiler = cProfile.Profile()
            profiler.enable()
            received = 0
            while received < args.acks:
                received += bridge.run_once().received
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            return
        counter = iter(range(10_000))
        scratch = Path(tempfile.mkdtemp(prefix="sftp-connect-"))
        alternate(args.rounds,
                  lambda: run_filebridge(server, args.acks, f"{next(counter)}"),
                  lambda: run_openssh(server, args.acks, f"{next(counter)}"),
                  f"ingest {args.acks} acks",
                  lambda: sftp_connect_only(server, scratch))
        shutil.rmtree(scratch)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
