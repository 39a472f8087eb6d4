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


def alternate(rounds: int, ours: Callable[[], float], theirs: Callable[[], float],
              label: str) -> None:
    """Run both ``rounds`` times, alternating, and print the median ratio ours/theirs."""
    ours_times: list[float] = []
    theirs_times: list[float] = []
    for round_number in range(rounds):
        ours_times.append(ours())
        theirs_times.append(theirs())
        print(f"  round {round_number + 1}: filebridge {ours_times[-1]:.2f}s, "
              f"sftp {theirs_times[-1]:.2f}s, ratio {ours_times[-1] / theirs_times[-1]:.2f}")
    ratios = sorted(o / t for o, t in zip(ours_times, theirs_times, strict=True))
    print(f"{label}: median filebridge {statistics.median(ours_times):.2f}s, "
          f"sftp {statistics.median(theirs_times):.2f}s; ratio median "
          f"{statistics.median(ratios):.2f} (min {ratios[0]:.2f}, max {ratios[-1]:.2f})")
