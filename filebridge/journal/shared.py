"""The journal's side of several daemons sharing one database: claims and heartbeats.

Each claim is one statement, so it is atomic on both dialects without locking more
than the row it takes:

- inbound files are claimed a few at a time with one ``INSERT ... ON CONFLICT DO
  UPDATE ... WHERE`` on their keys (partner, path, size, mtime): the insert wins for
  the first daemon; a later one only takes a row over when its claim expired (or it is
  its own), and ``RETURNING`` says which files it got. On PostgreSQL a second daemon
  inserting the same key waits for the first one's commit and then finds the claim
  taken; keys go in sorted, so two daemons never wait on each other. On SQLite writers
  are serialised anyway.
- an alert is claimed (in ``alert_sql``) with ``UPDATE ... WHERE (unclaimed or
  expired or mine) RETURNING``: zero rows back means another daemon escalates it now.

Claims are leases: a daemon that dies holds nothing for longer than its lease.

These statements are single statements in autocommit (atomic on their own, and part
of the caller's transaction when one is open), so a claim costs one round trip and
one commit, not three.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from filebridge.journal.presence import DaemonRecord
from filebridge.journal.store import SqlStore

CLAIM_FILES = """
    INSERT INTO inbound_claims (partner, path, size, mtime, claimed_by, claim_expires_at)
    VALUES {rows}
    ON CONFLICT (partner, path, size, mtime) DO UPDATE
        SET claimed_by = excluded.claimed_by, claim_expires_at = excluded.claim_expires_at
        WHERE inbound_claims.claim_expires_at <= ?
           OR inbound_claims.claimed_by = excluded.claimed_by
    RETURNING path, size, mtime
"""
InboundFile = tuple[str, int, float]  # path, size, mtime: a file as the listing showed it

UPSERT_DAEMON = """
    INSERT INTO daemons (id, host, pid, started_at, last_seen, partners)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE
        SET last_seen = excluded.last_seen, partners = excluded.partners
"""


class SharedWorkSql(SqlStore):
    """Claims on inbound files, and daemon heartbeats, in portable SQL."""

    # -- inbound files ---------------------------------------------------------------
    def claim_inbound_files(
        self, partner: str, files: Sequence[InboundFile], claimant: str, now: datetime,
        lease_until: datetime,
    ) -> set[InboundFile]:
        keys = sorted({(path, int(size), float(mtime)) for path, size, mtime in files})
        if not keys:
            return set()
        until = self.codec.encode_time(lease_until)
        params: list[Any] = []
        for path, size, mtime in keys:
            params += [partner, path, size, mtime, claimant, until]
        params.append(self.codec.encode_time(now))
        sql = CLAIM_FILES.format(rows=", ".join(["(?, ?, ?, ?, ?, ?)"] * len(keys)))
        rows = self._query(sql, params)
        return {(row["path"], int(row["size"]), float(row["mtime"])) for row in rows}

    def release_inbound_files(self, partner: str, claimant: str) -> None:
        self._command("DELETE FROM inbound_claims WHERE partner = ? AND claimed_by = ?",
                      (partner, claimant))

    # -- heartbeats --------------------------------------------------------------------
    def record_heartbeat(self, daemon: DaemonRecord) -> None:
        partners = None if daemon.partners is None else json.dumps(daemon.partners)
        self._command(UPSERT_DAEMON, (
            daemon.id, daemon.host, daemon.pid, self.codec.encode_time(daemon.started_at),
            self.codec.encode_time(daemon.last_seen), partners))

    def remove_daemon(self, daemon_id: str) -> None:
        self._command("DELETE FROM daemons WHERE id = ?", (daemon_id,))

    def daemons(self) -> list[DaemonRecord]:
        rows = self._query("SELECT * FROM daemons ORDER BY last_seen DESC, id")
        return [self.codec.record(DaemonRecord, _decoded_partners(row)) for row in rows]

    def claims_held(self, now: datetime) -> dict[str, tuple[int, int]]:
        at = self.codec.encode_time(now)
        held: dict[str, list[int]] = {}
        for index, table in enumerate(("orders", "inbound_claims")):
            rows = self._query(
                f"SELECT claimed_by, COUNT(*) AS n FROM {table} WHERE claimed_by IS NOT NULL "
                "AND claim_expires_at > ? GROUP BY claimed_by", (at,))
            for row in rows:
                held.setdefault(row["claimed_by"], [0, 0])[index] = int(row["n"])
        return {claimant: (orders, files) for claimant, (orders, files) in held.items()}


def _decoded_partners(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["partners"] = None if data.get("partners") is None else json.loads(data["partners"])
    return data
