"""Alerts as incidents, in portable SQL: one open alert per (kind, partner), and the
orders it concerns in ``alert_orders``.

An order joins an incident with one ``INSERT ... ON CONFLICT DO NOTHING`` on the partial
unique index of current members, so two daemons adding the same overdue order add it
once; it leaves by getting a ``left_at``. The incident itself is opened or bumped with
one upsert on the partial unique index ``alerts_one_open_incident``, and resolved with
one ``UPDATE`` that only matches while no order is left in it.

Several daemons: one daemon may add an order to an incident in the moment another
resolves it (its last order answered). The order then sits in a resolved incident; the
next deadline pass finds it in no open incident and opens a new one for it, so nothing
is lost, at worst an incident is split in two.

Escalation claims an alert the same way it claims orders (a lease on the row): one
``UPDATE ... WHERE (unclaimed or expired or mine) RETURNING``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from filebridge.journal.order_claims import marks
from filebridge.journal.store import Row, SqlStore
from filebridge.model import (
    ORDER_IDS_LISTED,
    Alert,
    AlertKind,
    AlertMember,
    AlertOpening,
    AlertRelease,
    OrderState,
)

BATCH = 500  # ids per IN list or multi-row insert: well under every driver's limit

# The conflict target is the partial unique index ``alerts_one_open_incident``. A
# partner-level alert counts each failure (``count`` 1 per call); an incident of
# orders counts the orders that join it (added after its members are inserted), so a
# row that comes back with count 0 was opened by this very statement.
UPSERT_INCIDENT = """
    INSERT INTO alerts (kind, partner, order_id, opened_at, level, count, message,
                        last_error, updated_at)
    VALUES (?, ?, NULL, ?, 0, ?, ?, ?, ?)
    ON CONFLICT (kind, partner) WHERE resolved_at IS NULL
    DO UPDATE SET count = alerts.count + excluded.count,
                  message = excluded.message,
                  last_error = COALESCE(excluded.last_error, alerts.last_error),
                  updated_at = excluded.updated_at
    RETURNING *
"""

JOIN_ORDERS = """
    INSERT INTO alert_orders (alert_id, order_id, added_at) VALUES {rows}
    ON CONFLICT (alert_id, order_id) WHERE left_at IS NULL DO NOTHING
    RETURNING order_id
"""

# Current members of open alerts, every member of resolved ones; the first N per alert
# (oldest stay first) and how many there are, in one statement.
MEMBERS_OF = """
    SELECT alert_id, order_id, total FROM (
        SELECT m.alert_id, m.order_id,
               ROW_NUMBER() OVER (PARTITION BY m.alert_id ORDER BY MIN(m.id)) AS n,
               COUNT(*) OVER (PARTITION BY m.alert_id) AS total
        FROM alert_orders m JOIN alerts a ON a.id = m.alert_id
        WHERE m.alert_id IN ({ids}) AND (m.left_at IS NULL OR a.resolved_at IS NOT NULL)
        GROUP BY m.alert_id, m.order_id
    ) ranked WHERE n <= ? ORDER BY alert_id, n
"""

RESOLVE_IF_EMPTY = """
    UPDATE alerts SET resolved_at = ?, updated_at = ?
    WHERE id = ? AND resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM alert_orders m
                      WHERE m.alert_id = alerts.id AND m.left_at IS NULL)
    RETURNING *
"""

CLAIM_ALERT = """
    UPDATE alerts SET claimed_by = ?, claim_expires_at = ?
    WHERE id = ? AND resolved_at IS NULL AND acknowledged_at IS NULL
      AND (claimed_by IS NULL OR claim_expires_at IS NULL OR claim_expires_at <= ?
           OR claimed_by = ?)
    RETURNING *
"""


def _batches(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), BATCH):
        yield values[start:start + BATCH]


class AlertsSql(SqlStore):
    """The journal's alerts, their orders, notifications' parent rows and claims."""

    # -- reading -----------------------------------------------------------------------
    def _alerts_from(self, rows: Sequence[Row]) -> list[Alert]:
        """Alerts from their rows, with the orders each concerns filled in."""
        members: dict[int, tuple[int, list[str]]] = {}
        ids = [int(row["id"]) for row in rows]
        for chunk in _batches(ids):
            for found in self._query(MEMBERS_OF.format(ids=marks(chunk)),
                                     [*chunk, ORDER_IDS_LISTED]):
                total, listed = members.setdefault(int(found["alert_id"]),
                                                   (int(found["total"]), []))
                listed.append(found["order_id"])
        alerts = []
        for row in rows:
            total, listed = members.get(int(row["id"]), (0, []))
            alert = self.codec.record(Alert, row)
            alerts.append(alert.model_copy(update={
                "orders": total, "order_ids": tuple(listed),
                "order_id": listed[0] if total == 1 else None}))
        return alerts

    def get_alert(self, alert_id: int) -> Alert | None:
        row = self._query_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return self._alerts_from([row])[0] if row else None

    def alerts(self, include_resolved: bool = False, *, partner: str | None = None,
               kind: AlertKind | None = None, last: int | None = None) -> list[Alert]:
        clauses = ["1 = 1"] if include_resolved else ["resolved_at IS NULL"]
        params: list[Any] = []
        if partner is not None:
            clauses.append("partner = ?")
            params.append(partner)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(AlertKind(kind).value)
        tail = ""
        if last is not None:
            tail = " LIMIT ?"
            params.append(max(last, 0))
        rows = self._query(
            f"SELECT * FROM alerts WHERE {' AND '.join(clauses)} ORDER BY id DESC{tail}",
            params)
        return self._alerts_from(rows)

    def alert_members(self, alert_id: int) -> list[AlertMember]:
        rows = self._query(
            "SELECT order_id, added_at, left_at FROM alert_orders WHERE alert_id = ? "
            "ORDER BY id", (alert_id,))
        return [self.codec.record(AlertMember, row) for row in rows]

    def orders_in_open_alerts(self, kinds: Collection[AlertKind]) -> set[tuple[AlertKind, str]]:
        if not kinds:
            return set()
        values = [AlertKind(kind).value for kind in kinds]
        rows = self._query(
            "SELECT a.kind, m.order_id FROM alert_orders m JOIN alerts a ON a.id = m.alert_id "
            f"WHERE m.left_at IS NULL AND a.resolved_at IS NULL AND a.kind IN ({marks(values)})",
            values)
        return {(AlertKind(row["kind"]), row["order_id"]) for row in rows}

    def queued_orders_outside(self, partners: Collection[str]) -> dict[str, list[str]]:
        where = "state = ?"
        params: list[Any] = [OrderState.QUEUED.value]
        names = sorted(partners)
        if names:
            where += f" AND partner NOT IN ({marks(names)})"
            params += names
        rows = self._query(
            f"SELECT partner, order_id FROM orders WHERE {where} ORDER BY created_at, seq",
            params)
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["partner"], []).append(row["order_id"])
        return found

    # -- opening and resolving ---------------------------------------------------------
    def open_alert(
        self, kind: AlertKind, partner: str, order_ids: Sequence[str], message: str,
        now: datetime, error: str | None = None,
    ) -> AlertOpening:
        """Open the (kind, partner) incident or bump the open one; ``order_ids`` join
        it. A bump takes the newer message (so "latest" stays the latest) and error,
        and keeps the acknowledgement and the opening time."""
        at = self.codec.encode_time(now)
        wanted = list(dict.fromkeys(order_ids))
        with self.transaction():
            row = self._query(UPSERT_INCIDENT, (
                AlertKind(kind).value, partner, at, 0 if wanted else 1, message, error,
                at))[0]
            alert_id = int(row["id"])
            created = int(row["count"]) == (0 if wanted else 1)
            joined: list[str] = []
            for chunk in _batches(wanted):
                params: list[Any] = []
                for order_id in chunk:
                    params += [alert_id, order_id, at]
                sql = JOIN_ORDERS.format(rows=", ".join(["(?, ?, ?)"] * len(chunk)))
                joined += [found["order_id"] for found in self._query(sql, params)]
            if joined:
                row = self._query(
                    "UPDATE alerts SET count = count + ? WHERE id = ? RETURNING *",
                    (len(joined), alert_id))[0]
            alert = self._alerts_from([row])[0]
        order = {order_id: index for index, order_id in enumerate(wanted)}
        return AlertOpening(alert=alert, created=created,
                            joined=tuple(sorted(joined, key=order.__getitem__)))

    def release_alert_orders(
        self, kinds: Collection[AlertKind], partner: str, order_ids: Sequence[str],
        now: datetime,
    ) -> list[AlertRelease]:
        """The orders leave the partner's open incidents of these kinds; an incident
        left without orders resolves."""
        if not kinds or not order_ids:
            return []
        at = self.codec.encode_time(now)
        values = [AlertKind(kind).value for kind in kinds]
        left: dict[int, list[str]] = {}
        with self.transaction():
            for chunk in _batches(list(dict.fromkeys(order_ids))):
                rows = self._query(
                    f"UPDATE alert_orders SET left_at = ? WHERE left_at IS NULL "
                    f"AND order_id IN ({marks(chunk)}) AND alert_id IN (SELECT id FROM alerts "
                    f"WHERE resolved_at IS NULL AND partner = ? AND kind IN ({marks(values)})) "
                    "RETURNING alert_id, order_id", [at, *chunk, partner, *values])
                for row in rows:
                    left.setdefault(int(row["alert_id"]), []).append(row["order_id"])
            if not left:
                return []
            kinds_of = {int(row["id"]): AlertKind(row["kind"]) for row in self._query(
                f"SELECT id, kind FROM alerts WHERE id IN ({marks(list(left))})", list(left))}
            releases = []
            for alert_id in sorted(left):
                resolved = self._query_one(RESOLVE_IF_EMPTY, (at, at, alert_id))
                releases.append(AlertRelease(
                    alert_id=alert_id, kind=kinds_of[alert_id], left=tuple(left[alert_id]),
                    resolved=self._alerts_from([resolved])[0] if resolved else None))
        return releases

    def resolve_alerts(self, kind: AlertKind, partner: str, now: datetime) -> list[Alert]:
        """Resolve the open (kind, partner) alert outright; its orders leave it."""
        at = self.codec.encode_time(now)
        with self.transaction():
            rows = self._query(
                "UPDATE alerts SET resolved_at = ?, updated_at = ? WHERE resolved_at IS NULL "
                "AND partner = ? AND kind = ? RETURNING *",
                (at, at, partner, AlertKind(kind).value))
            for row in rows:
                self._command(
                    "UPDATE alert_orders SET left_at = ? WHERE alert_id = ? AND left_at IS NULL",
                    (at, row["id"]))
            alerts = self._alerts_from(rows)
        return sorted(alerts, key=lambda a: a.id)

    def acknowledge_alert(self, alert_id: int, by: str, now: datetime) -> Alert:
        """The first acknowledgement is kept; acknowledging again changes nothing."""
        at = self.codec.encode_time(now)
        with self.transaction():
            row = self._query_one(
                "UPDATE alerts SET acknowledged_by = COALESCE(acknowledged_by, ?), "
                "acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ? RETURNING *",
                (by, at, alert_id),
            )
        if row is None:
            raise KeyError(alert_id)
        return self._alerts_from([row])[0]

    def set_alert_level(self, alert_id: int, level: int, now: datetime) -> None:
        with self.transaction():
            self._command(
                "UPDATE alerts SET level = ?, updated_at = ? WHERE id = ?",
                (level, self.codec.encode_time(now), alert_id),
            )

    # -- escalation claims -------------------------------------------------------------
    def claim_alert(
        self, alert_id: int, claimant: str, now: datetime, lease_until: datetime
    ) -> Alert | None:
        row = self._query_one(CLAIM_ALERT, (
            claimant, self.codec.encode_time(lease_until), alert_id,
            self.codec.encode_time(now), claimant))
        return self._alerts_from([row])[0] if row else None

    def release_alert(self, alert_id: int, claimant: str) -> None:
        self._command(
            "UPDATE alerts SET claimed_by = NULL, claim_expires_at = NULL "
            "WHERE id = ? AND claimed_by = ?", (alert_id, claimant))
