"""Daemons sharing a journal: who is running, and what each one holds.

Every daemon writes a heartbeat row (its claimant id, host, pid, when it started, when
it was last seen, which partners it serves) a few times a minute. ``status`` reads
them: a daemon seen recently is alive; one that stopped answering (``kill -9``, a lost
host) is shown as gone until its claims expire and the others take its work over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

#: a daemon whose last heartbeat is older than this is reported as not alive
ALIVE_WITHIN = timedelta(seconds=60)
#: how often a running daemon writes its heartbeat (at most)
HEARTBEAT_EVERY = timedelta(seconds=5)


class DaemonRecord(BaseModel):
    """One daemon's heartbeat row."""

    model_config = ConfigDict(frozen=True)

    id: str  # the daemon's claimant id: host:pid:random
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    partners: list[str] | None = None  # None: every configured partner


class DaemonHolding(BaseModel):
    """What ``status`` says about one daemon: its heartbeat, and the claims it holds."""

    model_config = ConfigDict(frozen=True)

    id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    partners: list[str] | None
    alive: bool
    claimed_orders: int
    claimed_files: int

    def status_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")


def daemon_holdings(
    daemons: list[DaemonRecord], held: dict[str, tuple[int, int]], now: datetime
) -> list[DaemonHolding]:
    """Each daemon's heartbeat with its liveness and the claims it holds, alive first."""
    found = [
        DaemonHolding(
            **daemon.model_dump(), alive=now - daemon.last_seen <= ALIVE_WITHIN,
            claimed_orders=held.get(daemon.id, (0, 0))[0],
            claimed_files=held.get(daemon.id, (0, 0))[1])
        for daemon in daemons
    ]
    return sorted(found, key=lambda d: (not d.alive, d.host, d.pid, d.id))
