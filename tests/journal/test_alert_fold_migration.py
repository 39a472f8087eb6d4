"""A journal from before alerts were incidents: its open per-order alerts are folded
into one incident per (kind, partner) when it is opened; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from filebridge.journal import Journal, store
from filebridge.journal.schema import MIGRATIONS
from filebridge.journal.sql import SqlJournal
from filebridge.model import AlertKind, NotificationRecord, NotificationStatus, TimelineEntry
from tests.factories import T0
from tests.journal.conftest import JournalDatabase

MINUTE = timedelta(minutes=1)
BEFORE_INCIDENTS = 3  # the last schema version with one alert per order

OLD_ALERT = """
    INSERT INTO alerts (kind, partner, order_id, opened_at, level, count, message,
                        acknowledged_by, acknowledged_at, resolved_at)
    VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id
"""


def old_journal(database: JournalDatabase, monkeypatch: pytest.MonkeyPatch) -> SqlJournal:
    """A journal created by a filebridge that knew migrations 1 to 3 only."""
    with monkeypatch.context() as patch:
        patch.setattr(store, "MIGRATIONS", MIGRATIONS[:BEFORE_INCIDENTS])
        patch.setattr(store, "LATEST_VERSION", BEFORE_INCIDENTS)
        journal = database.open()
    assert isinstance(journal, SqlJournal) and journal.schema_version() == BEFORE_INCIDENTS
    return journal


def add_old_alert(journal: SqlJournal, kind: str, partner: str, order_id: str | None,
                  opened: timedelta, level: int = 0, acked_by: str | None = None,
                  resolved: timedelta | None = None) -> int:
    enc = journal.codec.encode_time
    rows = journal._query(OLD_ALERT, (
        kind, partner, order_id, enc(T0 + opened), level, f"{kind} {order_id}", acked_by,
        enc(T0 + opened) if acked_by else None,
        enc(T0 + resolved) if resolved is not None else None))
    return int(rows[0]["id"])


def test_open_per_order_alerts_fold_into_one_incident_per_partner(
        database: JournalDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    # given an old journal: three open ack_overdue alerts of retura (one escalated to
    # level 2, one acknowledged), one of depot, a resolved one, and a partner alert
    old = old_journal(database, monkeypatch)
    first = add_old_alert(old, "ack_overdue", "retura", "ORD-1", MINUTE, level=1)
    second = add_old_alert(old, "ack_overdue", "retura", "ORD-2", 2 * MINUTE, level=2)
    third = add_old_alert(old, "ack_overdue", "retura", "ORD-3", 3 * MINUTE, acked_by="kari")
    depot = add_old_alert(old, "ack_overdue", "depot", "ORD-9", MINUTE)
    gone = add_old_alert(old, "send_failed", "retura", "ORD-5", MINUTE, resolved=2 * MINUTE)
    down = add_old_alert(old, "partner_unreachable", "retura", None, MINUTE)
    old.add_notification(NotificationRecord(alert_id=second, level=2, target="log:alerts",
                                            at=T0, status=NotificationStatus.SENT))
    old.add_event("ORD-3", TimelineEntry(at=T0, event="alert", detail="x", alert_id=third))
    old.close()

    # when this filebridge opens it
    journal: Journal = database.open()

    # then retura's three late orders are one incident: the oldest alert, escalated as
    # far as any of them was, not acknowledged (not all of them were)
    assert journal.schema_version() == MIGRATIONS[-1].version
    late = journal.alerts(partner="retura", kind=AlertKind.ACK_OVERDUE)
    assert [a.id for a in late] == [first]
    incident = late[0]
    assert (incident.orders, incident.order_ids, incident.order_id) == (
        3, ("ORD-1", "ORD-2", "ORD-3"), None)
    assert (incident.opened_at, incident.level, incident.count) == (T0 + MINUTE, 2, 3)
    assert incident.acknowledged_at is None
    assert incident.message == "orders sent to retura were not acknowledged in time"
    # the folded alerts' notifications and timeline lines belong to it now
    assert [n.level for n in journal.notifications(first)] == [2]
    assert [e.alert_id for e in journal.timeline("ORD-3")] == [first]
    assert journal.get_alert(second) is None and journal.get_alert(third) is None

    # depot's alert is its own incident; the partner alert is untouched
    (depot_incident,) = journal.alerts(partner="depot")
    assert (depot_incident.id, depot_incident.order_id) == (depot, "ORD-9")
    (partner_alert,) = journal.alerts(partner="retura", kind=AlertKind.PARTNER_UNREACHABLE)
    assert (partner_alert.id, partner_alert.orders) == (down, 0)
    # a resolved alert stays resolved and still names its order
    resolved = journal.get_alert(gone)
    assert resolved is not None and resolved.resolved_at == T0 + 2 * MINUTE
    assert (resolved.order_id, resolved.orders) == ("ORD-5", 1)

    # and the incident lives on: an answer shrinks it, a new late order joins it
    journal.release_alert_orders([AlertKind.ACK_OVERDUE], "retura", ["ORD-2"], T0 + MINUTE)
    grown = journal.open_alert(AlertKind.ACK_OVERDUE, "retura", ["ORD-4"], "late", T0)
    assert not grown.created and grown.alert.id == first
    assert grown.alert.order_ids == ("ORD-1", "ORD-3", "ORD-4")
