"""The journal's tables, as numbered migrations shared by every SQL dialect.

A migration is applied once, in its own transaction, and recorded in ``schema_version``;
a released migration is never edited, only followed by a new one. The DDL is written
once with a few type tokens that each dialect fills in:

    {id}    an auto-incrementing integer primary key that is never reused
    {ts}    a UTC instant (ISO text on SQLite, timestamptz on PostgreSQL)
    {blob}  raw bytes (BLOB / bytea)
    {json}  a JSON document (TEXT / jsonb)

Both dialects understand partial indexes, so "at most one unresolved alert per (kind,
partner)" (an incident) and "an order is in an incident at most once at a time" are
enforced by the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One step of the schema; ``statements`` run in order inside one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at {ts} NOT NULL
)"""

INITIAL = Migration(
    version=1,
    description="orders, exchanges, events, alerts, notifications",
    statements=(
        """
        CREATE TABLE orders (
            seq {id},
            order_id TEXT NOT NULL UNIQUE,
            partner TEXT NOT NULL,
            state TEXT NOT NULL,
            document {json} NOT NULL,
            created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {ts},
            file_name TEXT,
            file_content {blob},
            file_path TEXT,
            sent_at {ts},
            picked_up_at {ts},
            acknowledged_at {ts},
            finished_at {ts},
            ack_due_at {ts},
            result_due_at {ts},
            ack_message_id TEXT,
            result_message_id TEXT,
            last_error TEXT,
            resend_by TEXT,
            resend_reason TEXT,
            claimed_by TEXT,
            claim_expires_at {ts},
            upload_token TEXT,
            staged_at {ts}
        )""",
        # claim_due_orders: one partner's queued orders by due time
        "CREATE INDEX orders_due ON orders (partner, state, next_attempt_at)",
        # count_by_state, orders_in_states, find_orders, prune
        "CREATE INDEX orders_state ON orders (state, created_at)",
        "CREATE INDEX orders_ack_due ON orders (state, ack_due_at)",
        "CREATE INDEX orders_result_due ON orders (state, result_due_at)",
        """
        CREATE TABLE exchanges (
            id {id},
            at {ts} NOT NULL,
            partner TEXT NOT NULL,
            direction TEXT NOT NULL,
            document TEXT NOT NULL,
            order_id TEXT,
            file_name TEXT NOT NULL,
            path TEXT NOT NULL,
            size BIGINT,
            sha256 TEXT,
            status TEXT NOT NULL,
            attempt INTEGER,
            error TEXT,
            "by" TEXT,
            reason TEXT,
            message_id TEXT
        )""",
        # newest-first listing walks the primary key backwards; these serve the filters
        "CREATE INDEX exchanges_by_order ON exchanges (order_id, id)",
        "CREATE INDEX exchanges_by_partner_status ON exchanges (partner, status, id)",
        "CREATE INDEX exchanges_by_status ON exchanges (status, id)",
        "CREATE INDEX exchanges_at ON exchanges (at)",
        # inbound_message_seen (duplicates) and last_inbound_record (crash recovery)
        """
        CREATE INDEX exchanges_inbound ON exchanges (partner, message_id)
            WHERE direction = 'in'
        """,
        """
        CREATE INDEX exchanges_inbound_file ON exchanges (partner, sha256, id)
            WHERE direction = 'in'
        """,
        """
        CREATE TABLE events (
            id {id},
            order_id TEXT NOT NULL,
            at {ts} NOT NULL,
            event TEXT NOT NULL,
            detail TEXT NOT NULL,
            state TEXT,
            exchange_id BIGINT,
            alert_id BIGINT
        )""",
        "CREATE INDEX events_by_order ON events (order_id, at, id)",
        "CREATE INDEX events_at ON events (at)",
        """
        CREATE TABLE alerts (
            id {id},
            kind TEXT NOT NULL,
            partner TEXT NOT NULL,
            order_id TEXT,
            opened_at {ts} NOT NULL,
            level INTEGER NOT NULL DEFAULT 0,
            count INTEGER NOT NULL DEFAULT 1,
            message TEXT NOT NULL,
            last_error TEXT,
            updated_at {ts},
            acknowledged_by TEXT,
            acknowledged_at {ts},
            resolved_at {ts}
        )""",
        """
        CREATE UNIQUE INDEX alerts_one_unresolved
            ON alerts (kind, partner, COALESCE(order_id, ''))
            WHERE resolved_at IS NULL
        """,
        "CREATE INDEX alerts_resolved_at ON alerts (resolved_at)",
        """
        CREATE TABLE notifications (
            id {id},
            alert_id BIGINT NOT NULL,
            level INTEGER NOT NULL,
            target TEXT NOT NULL,
            at {ts} NOT NULL,
            status TEXT NOT NULL,
            error TEXT
        )""",
        "CREATE INDEX notifications_by_alert ON notifications (alert_id, id)",
    ),
)

SHARED_WORK = Migration(
    version=2,
    description="row versions, inbound file claims, alert claims, daemon heartbeats",
    statements=(
        # optimistic concurrency: every write of an order row bumps its version, and a
        # save only succeeds against the version it read
        "ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
        # status: what each daemon holds
        "CREATE INDEX orders_claimed ON orders (claimed_by) WHERE claimed_by IS NOT NULL",
        # one daemon escalates an alert at a time
        "ALTER TABLE alerts ADD COLUMN claimed_by TEXT",
        "ALTER TABLE alerts ADD COLUMN claim_expires_at {ts}",
        # one daemon reads an inbound file at a time; the key is the file as listed
        """
        CREATE TABLE inbound_claims (
            partner TEXT NOT NULL,
            path TEXT NOT NULL,
            size BIGINT NOT NULL,
            mtime DOUBLE PRECISION NOT NULL,
            claimed_by TEXT NOT NULL,
            claim_expires_at {ts} NOT NULL,
            PRIMARY KEY (partner, path, size, mtime)
        )""",
        "CREATE INDEX inbound_claims_by_claimant ON inbound_claims (claimed_by)",
        """
        CREATE TABLE daemons (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at {ts} NOT NULL,
            last_seen {ts} NOT NULL,
            partners TEXT
        )""",
    ),
)

UNRECORDED_DELIVERIES = Migration(
    version=3,
    description="find uploads whose delivery was not journalled before a crash",
    statements=(
        # staged but never journalled as sent: normally only the batch in flight
        "CREATE INDEX orders_unrecorded ON orders (partner) "
        "WHERE staged_at IS NOT NULL AND sent_at IS NULL",
    ),
)

# The incidents each folded alert goes into: the oldest open alert of its (kind, partner).
_FOLD_GROUPS = """
    CREATE TABLE alert_fold AS
    SELECT a.id AS old_id,
           (SELECT MIN(k.id) FROM alerts k WHERE k.kind = a.kind AND k.partner = a.partner
                AND k.resolved_at IS NULL) AS keeper_id
    FROM alerts a WHERE a.resolved_at IS NULL"""


def _over_group(expression: str) -> str:
    """``expression`` over every open alert folded into the alert being updated."""
    return (f"(SELECT {expression} FROM alerts o JOIN alert_fold f ON f.old_id = o.id "
            "WHERE f.keeper_id = alerts.id)")


_STILL_UNACKNOWLEDGED = (
    "EXISTS (SELECT 1 FROM alerts o JOIN alert_fold f ON f.old_id = o.id "
    "WHERE f.keeper_id = alerts.id AND o.acknowledged_at IS NULL)")

ALERT_INCIDENTS = Migration(
    version=4,
    description="alerts are incidents: one open alert per (kind, partner) and its orders",
    statements=(
        # the orders of an incident; a row per stay (an order may leave and join again)
        """
        CREATE TABLE alert_orders (
            id {id},
            alert_id BIGINT NOT NULL,
            order_id TEXT NOT NULL,
            added_at {ts} NOT NULL,
            left_at {ts}
        )""",
        """
        CREATE UNIQUE INDEX alert_orders_current ON alert_orders (alert_id, order_id)
            WHERE left_at IS NULL
        """,
        "CREATE INDEX alert_orders_by_alert ON alert_orders (alert_id, id)",
        "CREATE INDEX alert_orders_by_order ON alert_orders (order_id)",
        # fold the open per-order alerts of a (kind, partner) into its oldest one: its
        # orders, notifications and timeline lines all move there
        _FOLD_GROUPS,
        """
        INSERT INTO alert_orders (alert_id, order_id, added_at, left_at)
        SELECT COALESCE(f.keeper_id, a.id), a.order_id, a.opened_at, a.resolved_at
        FROM alerts a LEFT JOIN alert_fold f ON f.old_id = a.id
        WHERE a.order_id IS NOT NULL
        ORDER BY a.id""",
        f"""
        UPDATE alerts SET
            opened_at = {_over_group("MIN(o.opened_at)")},
            level = {_over_group("MAX(o.level)")},
            count = {_over_group("SUM(o.count)")},
            acknowledged_by = CASE WHEN {_STILL_UNACKNOWLEDGED} THEN NULL
                                   ELSE acknowledged_by END,
            acknowledged_at = CASE WHEN {_STILL_UNACKNOWLEDGED} THEN NULL
                                   ELSE acknowledged_at END,
            message = CASE kind
                WHEN 'ack_overdue' THEN 'orders sent to ' || partner
                    || ' were not acknowledged in time'
                WHEN 'result_overdue' THEN 'orders acknowledged by ' || partner
                    || ' have no result in time'
                WHEN 'send_failed' THEN 'orders could not be delivered to ' || partner
                    || ' after every attempt'
                ELSE message END
        WHERE id IN (SELECT keeper_id FROM alert_fold) AND order_id IS NOT NULL""",
        """
        UPDATE notifications SET alert_id =
            (SELECT f.keeper_id FROM alert_fold f WHERE f.old_id = notifications.alert_id)
        WHERE alert_id IN (SELECT old_id FROM alert_fold WHERE old_id <> keeper_id)""",
        """
        UPDATE events SET alert_id =
            (SELECT f.keeper_id FROM alert_fold f WHERE f.old_id = events.alert_id)
        WHERE alert_id IN (SELECT old_id FROM alert_fold WHERE old_id <> keeper_id)""",
        "DELETE FROM alerts WHERE id IN (SELECT old_id FROM alert_fold WHERE old_id <> keeper_id)",
        "DROP TABLE alert_fold",
        # from now on an alert's orders are its members; the column stays for old rows'
        # sake only and is always empty
        "UPDATE alerts SET order_id = NULL WHERE order_id IS NOT NULL",
        "DROP INDEX alerts_one_unresolved",
        """
        CREATE UNIQUE INDEX alerts_one_open_incident ON alerts (kind, partner)
            WHERE resolved_at IS NULL
        """,
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    INITIAL, SHARED_WORK, UNRECORDED_DELIVERIES, ALERT_INCIDENTS,
)
"""Every migration, oldest first; versions are 1, 2, 3, ... without gaps."""

LATEST_VERSION = MIGRATIONS[-1].version

# The tables' columns in the order the SQL statements bind them. The OrderRow field
# ``order`` (a reserved word) is stored in the column ``document``.
ORDER_COLUMNS = (
    "order_id", "partner", "state", "document", "created_at", "updated_at", "attempts",
    "next_attempt_at", "file_name", "file_content", "file_path", "sent_at", "picked_up_at",
    "acknowledged_at", "finished_at", "ack_due_at", "result_due_at", "ack_message_id",
    "result_message_id", "last_error", "resend_by", "resend_reason", "claimed_by",
    "claim_expires_at", "upload_token", "staged_at", "version",
)
EXCHANGE_COLUMNS = (
    "at", "partner", "direction", "document", "order_id", "file_name", "path", "size",
    "sha256", "status", "attempt", "error", "by", "reason", "message_id",
)
EVENT_COLUMNS = ("order_id", "at", "event", "detail", "state", "exchange_id", "alert_id")
NOTIFICATION_COLUMNS = ("alert_id", "level", "target", "at", "status", "error")


def column_list(columns: tuple[str, ...]) -> str:
    """``"a", "b", ...``: every name quoted, since ``by`` and friends are SQL keywords."""
    return ", ".join(f'"{name}"' for name in columns)


def insert_statement(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (...) VALUES (?, ...)`` in the journal's neutral ``?`` style."""
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({column_list(columns)}) VALUES ({marks})"
