"""The daemon's heartbeat: a row in the journal saying it is alive and what it serves.

With several daemons on one journal, ``filebridge status`` shows who is running, which
partners each serves, and what each holds. The row is refreshed from the engine's tick,
at most every ``HEARTBEAT_EVERY``, so even a fast tick costs one write every few seconds.
A daemon that stops cleanly removes its row; one that is killed stops refreshing it,
and ``status`` reports it as gone once it is older than ``ALIVE_WITHIN``.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from filebridge.clock import Clock
from filebridge.journal.base import Journal
from filebridge.journal.presence import HEARTBEAT_EVERY, DaemonRecord


class Heartbeat:
    """Writes one daemon's heartbeat row."""

    def __init__(self, journal: Journal, clock: Clock, daemon_id: str,
                 partners: list[str] | None, every: timedelta = HEARTBEAT_EVERY) -> None:
        self.journal = journal
        self.daemon_id = daemon_id
        self.partners = sorted(partners) if partners is not None else None
        self.every = every
        self.started_at = clock.now()
        self.last_beat: datetime | None = None

    def beat(self, now: datetime) -> None:
        """Refresh the row, unless it was refreshed less than ``every`` ago."""
        if self.last_beat is not None and now - self.last_beat < self.every:
            return
        self.journal.record_heartbeat(DaemonRecord(
            id=self.daemon_id, host=socket.gethostname(), pid=os.getpid(),
            started_at=self.started_at, last_seen=now, partners=self.partners))
        self.last_beat = now

    def stop(self) -> None:
        """Remove the row: this daemon stopped cleanly and holds nothing."""
        if self.last_beat is not None:
            self.journal.remove_daemon(self.daemon_id)
            self.last_beat = None
