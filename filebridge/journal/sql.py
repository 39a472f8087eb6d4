"""The Journal port in portable SQL; dialects add only connections and the claim.

Every write runs inside ``transaction()``: on its own it commits alone, inside an outer
transaction it joins it, and a write made of several statements is atomic either way.
Where one statement can say it (``INSERT ... ON CONFLICT``, ``UPDATE ... RETURNING``),
one statement is used, so two daemons sharing a PostgreSQL journal cannot race between
a check and the write that depends on it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from filebridge.errors import ConcurrentUpdate, OrderNotFound
from filebridge.journal.alert_sql import AlertsSql
from filebridge.journal.base import Journal
from filebridge.journal.codec import to_utc
from filebridge.journal.order_claims import OrderClaimsSql, marks
from filebridge.journal.schema import (
    EVENT_COLUMNS,
    EXCHANGE_COLUMNS,
    NOTIFICATION_COLUMNS,
    ORDER_COLUMNS,
    insert_statement,
)
from filebridge.journal.shared import SharedWorkSql
from filebridge.model import (
    FINAL_STATES,
    Direction,
    ExchangeRecord,
    ExchangeStatus,
    NotificationRecord,
    OrderRow,
    OrderState,
    TimelineEntry,
)

OLDEST_FIRST = " ORDER BY created_at, seq"

INSERT_ORDER = (
    insert_statement("orders", ORDER_COLUMNS) + " ON CONFLICT (order_id) DO NOTHING RETURNING seq"
)
UPDATED_ORDER_COLUMNS = tuple(
    name for name in ORDER_COLUMNS if name not in ("order_id", "version")
)
INSERT_EXCHANGE = insert_statement("exchanges", EXCHANGE_COLUMNS) + " RETURNING id"
INSERT_EVENT = insert_statement("events", EVENT_COLUMNS)
INSERT_NOTIFICATION = insert_statement("notifications", NOTIFICATION_COLUMNS) + " RETURNING *"

@cache
def update_statement(fields: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    """The optimistic UPDATE of just these ``OrderRow`` fields, and its columns in order:
    the write lands only on the version the caller read."""
    wanted = {"document" if name == "order" else name for name in fields}
    unknown = wanted - set(UPDATED_ORDER_COLUMNS)
    if unknown:
        raise ValueError(f"not a writable order field: {', '.join(sorted(unknown))}")
    columns = tuple(name for name in UPDATED_ORDER_COLUMNS if name in wanted)
    sql = ("UPDATE orders SET " + "".join(f'"{name}" = ?, ' for name in columns)
           + "version = version + 1 WHERE order_id = ? AND version = ?")
    return sql, columns


class SqlJournal(AlertsSql, OrderClaimsSql, SharedWorkSql, Journal):
    """The journal on any SQL database the dialect subclasses can connect to."""

    # -- orders ------------------------------------------------------------------------
    def insert_order(self, row: OrderRow) -> bool:
        with self.transaction():
            inserted = self._query(INSERT_ORDER, self.codec.order_params(row, ORDER_COLUMNS))
        return bool(inserted)

    def get_order(self, order_id: str) -> OrderRow | None:
        row = self._query_one("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        return self.codec.order_row(row) if row else None

    def save_order(self, row: OrderRow, fields: Collection[str] | None = None) -> None:
        sql, columns = update_statement(
            frozenset(UPDATED_ORDER_COLUMNS if fields is None else fields))
        params = [*self.codec.order_params(row, columns), row.order_id, row.version]
        with self.transaction():
            if self._command(sql, params) == 0:
                if self._query_one(
                    "SELECT 1 AS found FROM orders WHERE order_id = ?", (row.order_id,)
                ) is None:
                    raise OrderNotFound(row.order_id)
                raise ConcurrentUpdate(row.order_id, row.version)
        row.version += 1

    def _orders(
        self, where: str, params: Sequence[Any], tail: str = OLDEST_FIRST
    ) -> list[OrderRow]:
        rows = self._query(f"SELECT * FROM orders WHERE {where}{tail}", params)
        return [self.codec.order_row(row) for row in rows]

    def orders_in_states(
        self, states: Sequence[OrderState], partner: str | None = None
    ) -> list[OrderRow]:
        if not states:
            return []
        where = f"state IN ({marks(states)})"
        params: list[Any] = [OrderState(s).value for s in states]
        if partner is not None:
            where += " AND partner = ?"
            params.append(partner)
        return self._orders(where, params)

    def files_awaiting_pickup(self, partner: str) -> dict[str, list[str]]:
        rows = self._query(
            "SELECT order_id, file_name FROM orders WHERE state = ? AND partner = ? "
            "AND file_name IS NOT NULL", (OrderState.SENT.value, partner))
        files: dict[str, list[str]] = {}
        for row in rows:
            files.setdefault(row["file_name"], []).append(row["order_id"])
        return files

    def find_orders(
        self,
        state: OrderState | None = None,
        partner: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[OrderRow]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if state is not None:
            clauses.append("state = ?")
            params.append(OrderState(state).value)
        if partner is not None:
            clauses.append("partner = ?")
            params.append(partner)
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(self.codec.encode_time(since))
        tail = OLDEST_FIRST
        if limit is not None:
            tail += " LIMIT ?"
            params.append(max(limit, 0))
        return self._orders(" AND ".join(clauses), params, tail)

    def count_by_state(self) -> dict[str, dict[str, int]]:
        rows = self._query(
            "SELECT partner, state, COUNT(*) AS n FROM orders GROUP BY partner, state "
            "ORDER BY partner, state"
        )
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["partner"], {})[row["state"]] = int(row["n"])
        return counts

    def overdue_orders(self, now: datetime) -> list[OrderRow]:
        """Sent or picked-up orders past ``ack_due_at``, acknowledged ones past
        ``result_due_at`` (a deadline equal to ``now`` counts as missed)."""
        at = self.codec.encode_time(now)
        return self._orders(
            "(state IN (?, ?) AND ack_due_at <= ?) OR (state = ? AND result_due_at <= ?)",
            (OrderState.SENT.value, OrderState.PICKED_UP.value, at,
             OrderState.ACKNOWLEDGED.value, at),
        )

    def overdue_order_ids(self, now: datetime) -> list[tuple[str, str, OrderState]]:
        """``overdue_orders`` without reading documents or files: ids, partners, states."""
        at = self.codec.encode_time(now)
        rows = self._query(
            "SELECT order_id, partner, state FROM orders WHERE "
            "(state IN (?, ?) AND ack_due_at <= ?) OR (state = ? AND result_due_at <= ?)"
            + OLDEST_FIRST,
            (OrderState.SENT.value, OrderState.PICKED_UP.value, at,
             OrderState.ACKNOWLEDGED.value, at),
        )
        return [(row["order_id"], row["partner"], OrderState(row["state"])) for row in rows]

    # -- exchanges ---------------------------------------------------------------------
    def add_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        with self.transaction():
            row = self._query(INSERT_EXCHANGE, self.codec.params(record, EXCHANGE_COLUMNS))[0]
        # the record as it reads back: with its id, its instant in UTC
        return record.model_copy(update={"id": int(row["id"]), "at": to_utc(record.at)})

    def exchanges(
        self,
        last: int = 20,
        partner: str | None = None,
        status: str | None = None,
        order_id: str | None = None,
    ) -> list[ExchangeRecord]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        for column, value in (("partner", partner), ("status", status), ("order_id", order_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(self.codec.value(value))
        params.append(max(last, 0))
        rows = self._query(
            f"SELECT * FROM exchanges WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
            params,
        )
        return [self.codec.record(ExchangeRecord, row) for row in rows]

    # The inbound lookups spell ``direction = 'in'`` out, so that the planner can use the
    # partial indexes that only cover inbound records (a bound value would not match).
    def inbound_message_seen(self, partner: str, message_id: str) -> bool:
        row = self._query_one(
            f"SELECT 1 AS seen FROM exchanges WHERE direction = '{Direction.IN.value}' "
            "AND partner = ? AND message_id = ? AND status = ? LIMIT 1",
            (partner, message_id, ExchangeStatus.OK.value),
        )
        return row is not None

    def last_inbound_record(
        self, partner: str, path: str, sha256: str
    ) -> ExchangeRecord | None:
        row = self._query_one(
            f"SELECT * FROM exchanges WHERE direction = '{Direction.IN.value}' "
            "AND partner = ? AND sha256 = ? AND path = ? ORDER BY id DESC LIMIT 1",
            (partner, sha256, path),
        )
        return self.codec.record(ExchangeRecord, row) if row else None

    # -- timeline ----------------------------------------------------------------------
    def add_event(self, order_id: str, entry: TimelineEntry) -> None:
        params = [order_id, *self.codec.params(entry, EVENT_COLUMNS[1:])]
        with self.transaction():
            self._command(INSERT_EVENT, params)

    def timeline(self, order_id: str) -> list[TimelineEntry]:
        """Oldest first by ``at``; entries with the same time in the order they were added."""
        rows = self._query("SELECT * FROM events WHERE order_id = ? ORDER BY at, id", (order_id,))
        return [self.codec.record(TimelineEntry, row) for row in rows]

    # -- notifications -----------------------------------------------------------------
    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        with self.transaction():
            row = self._query(
                INSERT_NOTIFICATION, self.codec.params(record, NOTIFICATION_COLUMNS)
            )[0]
        return self.codec.record(NotificationRecord, row)

    def notifications(self, alert_id: int | None = None) -> list[NotificationRecord]:
        if alert_id is None:
            rows = self._query("SELECT * FROM notifications ORDER BY id")
        else:
            rows = self._query(
                "SELECT * FROM notifications WHERE alert_id = ? ORDER BY id", (alert_id,)
            )
        return [self.codec.record(NotificationRecord, row) for row in rows]

    # -- housekeeping ------------------------------------------------------------------
    def probe_write(self) -> None:
        """A write statement that matches no row: it needs a writable session and the
        write lock (a read-only file, a read-only replica or a closed journal refuse it),
        and changes nothing."""
        with self.transaction():
            self._command("UPDATE schema_version SET version = version WHERE version < 0")

    def prune(self, before: datetime) -> int:
        """Exchanges and events with ``at`` before the cut-off; alerts resolved before it,
        with their notifications and order lists; completed / not-completed orders that
        finished before it, with their whole timeline. Open alerts and unfinished orders
        always stay."""
        cut = self.codec.encode_time(before)
        finals = sorted(state.value for state in FINAL_STATES)
        old_orders = (
            f"SELECT order_id FROM orders WHERE state IN ({marks(finals)}) "
            "AND COALESCE(finished_at, updated_at) < ?"
        )
        old_alerts = "SELECT id FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at < ?"
        with self.transaction():
            removed = self._command("DELETE FROM exchanges WHERE at < ?", (cut,))
            removed += self._command("DELETE FROM events WHERE at < ?", (cut,))
            removed += self._command(
                f"DELETE FROM events WHERE order_id IN ({old_orders})", (*finals, cut)
            )
            removed += self._command(
                f"DELETE FROM notifications WHERE alert_id IN ({old_alerts})", (cut,)
            )
            removed += self._command(
                f"DELETE FROM alert_orders WHERE alert_id IN ({old_alerts})", (cut,)
            )
            removed += self._command(
                "DELETE FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at < ?", (cut,)
            )
            removed += self._command(
                f"DELETE FROM orders WHERE order_id IN ({old_orders})", (*finals, cut)
            )
            removed += self._command(
                "DELETE FROM inbound_claims WHERE claim_expires_at < ?", (cut,)
            )
            removed += self._command("DELETE FROM daemons WHERE last_seen < ?", (cut,))
        return removed
