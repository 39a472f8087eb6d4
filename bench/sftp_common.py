"""Shared parts of the SFTP benchmarks: a real sshd on loopback and OpenSSH's client.

Both benchmarks run the product and OpenSSH's ``sftp`` in the same process tree,
against the same server, alternating, so that machine noise hits both alike.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers.sshd import SshdServer


def start_server() -> SshdServer:
    server = SshdServer(Path(tempfile.mkdtemp(prefix="filebridge-bench-sshd-")))
    server.start()
    return server


def sftp_batch(server: SshdServer, commands: list[str], workdir: Path) -> float:
    """Run OpenSSH's ``sftp -b`` with these commands; return the wall time in seconds."""
    batch = workdir / "batch.txt"
    batch.write_text("\n".join(commands) + "\n")
    argv = ["sftp", "-q", "-b", str(batch), "-i", str(server.user_key),
            "-o", f"UserKnownHostsFile={server.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-P", str(server.port), f"{server.user}@{server.host}"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=workdir, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def sftp_connect_only(server: SshdServer, workdir: Path) -> float:
    """OpenSSH's fixed cost in a batch run: start, connect, log in, quit."""
    return sftp_batch(server, ["pwd"], workdir)


def alternate(rounds: int, ours: Callable[[], float], theirs: Callable[[], float],
              label: str, theirs_fixed: Callable[[], float] | None = None) -> None:
    """Run both ``rounds`` times, alternating, after one uncounted warm-up run of
    each, and print the median ratio ours/theirs.

    filebridge is timed on a connection it already holds (a daemon keeps one), while
    each ``sftp -b`` run starts, connects and logs in. With ``theirs_fixed`` (that
    start-up alone, measured in each round) a second ratio compares the transfer work
    only: ours against theirs less its start-up.
    """
    ours_times: list[float] = []
    theirs_times: list[float] = []
    fixed_times: list[float] = []
    ours()  # a warm-up round of each, not counted: imports, schemas, the server's caches
    theirs()
    for round_number in range(rounds):
        ours_times.append(ours())
        theirs_times.append(theirs())
        line = (f"  round {round_number + 1}: filebridge {ours_times[-1]:.2f}s, "
                f"sftp {theirs_times[-1]:.2f}s, ratio {ours_times[-1] / theirs_times[-1]:.2f}")
        if theirs_fixed is not None:
            fixed_times.append(theirs_fixed())
            net = theirs_times[-1] - fixed_times[-1]
            line += (f"; sftp start-up {fixed_times[-1]:.2f}s, transfer-only ratio "
                     f"{ours_times[-1] / net:.2f}")
        print(line)
    ratios = sorted(o / t for o, t in zip(ours_times, theirs_times, strict=True))
    print(f"{label}: median filebridge {statistics.median(ours_times):.2f}s, "
          f"sftp {statistics.median(theirs_times):.2f}s; ratio median "
          f"{statistics.median(ratios):.2f} (min {ratios[0]:.2f}, max {ratios[-1]:.2f})")
    if fixed_times:
        net_ratios = sorted(o / (t - f) for o, t, f in
                            zip(ours_times, theirs_times, fixed_times, strict=True))
        print(f"{label}, transfer only (sftp's start-up of median "
              f"{statistics.median(fixed_times):.2f}s taken off): ratio median "
              f"{statistics.median(net_ratios):.2f} (min {net_ratios[0]:.2f}, "
              f"max {net_ratios[-1]:.2f})")
