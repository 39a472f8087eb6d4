"""The daemon on a (pseudo) terminal, as an operator starts it: what the screen shows."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path


def read_until(fd: int, marker: bytes, daemon: subprocess.Popen[bytes], seen: bytearray) -> None:
    """Read the terminal into ``seen`` until ``marker`` shows up, the daemon exits, or
    a generous number of polls has passed (the assertions then say what is missing)."""
    for _ in range(600):
        if marker in seen:
            return
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen.extend(os.read(fd, 65536))
            except OSError:  # the terminal closed: the daemon is gone
                return
        elif daemon.poll() is not None:
            return


def serve_on_terminal(config: Path, cwd: Path, marker: bytes,
                      columns: int = 160) -> tuple[str, int | None]:
    """Start ``filebridge run`` on a pseudo terminal, wait until ``marker`` is on screen,
    stop it with SIGTERM; the whole screen output and the exit code."""
    controller, terminal = pty.openpty()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "--config", str(config), "run"],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd,
        env={**os.environ, "COLUMNS": str(columns), "LINES": "60", "TERM": "xterm"})
    os.close(terminal)
    seen = bytearray()
    try:
        read_until(controller, marker, daemon, seen)
        daemon.send_signal(signal.SIGTERM)
        read_until(controller, b"filebridge stopped", daemon, seen)
        daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        os.close(controller)
    return seen.decode("utf-8", "replace"), daemon.returncode
