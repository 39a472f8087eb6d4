"""The Journal contract for exchange records, timelines, alerts, notifications, pruning.

Every test runs on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from filebridge.journal import Journal
from filebridge.model import (
    AlertKind,
    Direction,
    DocumentKind,
    ExchangeRecord,
    ExchangeStatus,
    NotificationRecord,
    NotificationStatus,
    OrderState,
    TimelineEntry,
)
from filebridge.model.records import EXCHANGE_JSON_KEYS
from tests.factories import T0
from tests.journal.conftest import order_row

MINUTE = timedelta(minutes=1)


def exchange(**fields: Any) -> ExchangeRecord:
    data: dict[str, Any] = {
        "at": T0,
        "partner": "retura",
        "direction": Direction.OUT,
        "document": DocumentKind.ORDER,
        "order_id": "ORD-1",
        "file_name": "ORDER_ORD-1_1.xml",
        "path": "to_partner/orders/ORDER_ORD-1_1.xml",
        "status": ExchangeStatus.OK,
    }
    data.update(fields)
    return ExchangeRecord(**data)


def inbound(message_id: str, **fields: Any) -> ExchangeRecord:
    data: dict[str, Any] = {
        "direction": Direction.IN,
        "document": DocumentKind.ACK,
        "file_name": "ack.xml",
        "path": "from_partner/acks/ack.xml",
        "message_id": message_id,
    }
    data.update(fields)
    return exchange(**data)


class TestExchanges:
    def test_a_record_round_trips_with_its_new_id(self, journal: Journal) -> None:
        record = exchange(
            size=1234, sha256="ab" * 32, attempt=2, error="timeout", by="kari",
            reason="lost", message_id="MSG-1", at=T0 + timedelta(microseconds=7),
        )

        stored = journal.add_exchange(record)

        assert stored.id is not None
        assert stored == record.model_copy(update={"id": stored.id})
        assert journal.exchanges() == [stored]
        assert list(stored.contract_json()) == list(EXCHANGE_JSON_KEYS)

    def test_a_record_made_in_another_zone_comes_back_as_it_reads_back(
            self, journal: Journal) -> None:
        oslo = timezone(timedelta(hours=1))
        record = exchange(at=datetime(2026, 11, 28, 11, 0, 0, 5, tzinfo=oslo))

        stored = journal.add_exchange(record)

        assert stored.at.utcoffset() == timedelta(0) and stored.at == record.at
        assert journal.exchanges() == [stored]

    def test_newest_first_and_limited(self, journal: Journal) -> None:
        # the id decides, not the time: a record journalled later is newer
        ids = [journal.add_exchange(exchange(at=T0 - n * MINUTE)).id for n in range(5)]

        newest = journal.exchanges(last=3)

        assert [record.id for record in newest] == ids[::-1][:3]
        assert journal.exchanges(last=0) == []

    def test_filters(self, journal: Journal) -> None:
        journal.add_exchange(exchange(order_id="ORD-1"))
        journal.add_exchange(exchange(order_id="ORD-2", status=ExchangeStatus.FAILED))
        journal.add_exchange(exchange(order_id="ORD-2", partner="depot"))
        journal.add_exchange(
            inbound("X", order_id=None, status=ExchangeStatus.QUARANTINED, document="unknown")
        )

        def ids(**filters: Any) -> list[str | None]:
            return [r.order_id for r in journal.exchanges(last=10, **filters)]

        assert ids(partner="depot") == ["ORD-2"]
        assert ids(status="failed") == ["ORD-2"]
        assert ids(order_id="ORD-2") == ["ORD-2", "ORD-2"]
        assert ids(partner="retura", status="ok") == ["ORD-1"]
        assert ids(status="quarantined") == [None]

    def test_inbound_message_seen_only_after_an_applied_inbound_record(
        self, journal: Journal
    ) -> None:
        journal.add_exchange(exchange(message_id="OUT-1"))
        journal.add_exchange(inbound("DUP-1", status=ExchangeStatus.DUPLICATE))
        journal.add_exchange(inbound("ACK-1"))

        assert journal.inbound_message_seen("retura", "ACK-1")
        assert not journal.inbound_message_seen("depot", "ACK-1")
        assert not journal.inbound_message_seen("retura", "OUT-1")
        assert not journal.inbound_message_seen("retura", "DUP-1")
        assert not journal.inbound_message_seen("retura", "NEVER")

    def test_last_inbound_record_of_a_file(self, journal: Journal) -> None:
        sha = "cd" * 32
        journal.add_exchange(inbound("A", sha256=sha, status=ExchangeStatus.UNMATCHED))
        newest = journal.add_exchange(inbound("B", sha256=sha))
        journal.add_exchange(inbound("C", sha256="ef" * 32))
        journal.add_exchange(exchange(sha256=sha, path="from_partner/acks/ack.xml"))

        assert journal.last_inbound_record("retura", "from_partner/acks/ack.xml", sha) == newest
        assert journal.last_inbound_record("retura", "from_partner/acks/other.xml", sha) is None
        assert journal.last_inbound_record("depot", "from_partner/acks/ack.xml", sha) is None


class TestTimeline:
    def test_oldest_first_by_time_then_in_the_order_added(self, journal: Journal) -> None:
        later = TimelineEntry(at=T0 + MINUTE, event="state", detail="sent",
                              state=OrderState.SENT, exchange_id=7)
        first = TimelineEntry(at=T0, event="submitted", detail="queued for retura")
        same_time = TimelineEntry(at=T0 + MINUTE, event="alert", detail="x", alert_id=3)
        journal.add_event("ORD-1", later)
        journal.add_event("ORD-1", first)
        journal.add_event("ORD-1", same_time)
        journal.add_event("ORD-2", first)

        assert journal.timeline("ORD-1") == [first, later, same_time]
        assert journal.timeline("ORD-3") == []


class TestNotifications:
    def test_journalled_oldest_first_per_alert(self, journal: Journal) -> None:
        def note(alert_id: int, target: str, status: NotificationStatus) -> NotificationRecord:
            return journal.add_notification(NotificationRecord(
                alert_id=alert_id, level=1, target=target, at=T0, status=status,
                error="550 mailbox unavailable" if status == "failed" else None,
            ))

        first = note(1, "email:ops@example.com", NotificationStatus.FAILED)
        other = note(2, "webhook:https://hooks.example/x", NotificationStatus.SENT)
        second = note(1, "email:oncall@example.com", NotificationStatus.SENT)

        assert first.id is not None and first.error == "550 mailbox unavailable"
        assert journal.notifications(1) == [first, second]
        assert journal.notifications() == [first, other, second]


class TestPrune:
    def test_removes_only_old_finished_rows(self, journal: Journal) -> None:
        cut = T0 + timedelta(days=30)
        old, new = cut - MINUTE, cut + MINUTE
        journal.insert_order(order_row("OLD-DONE", state=OrderState.COMPLETED, finished_at=old))
        journal.insert_order(order_row("OLD-OPEN", state=OrderState.SENT))
        journal.insert_order(order_row("NEW-DONE", state=OrderState.COMPLETED, finished_at=new))
        journal.add_event("OLD-DONE", TimelineEntry(at=old, event="submitted", detail="d"))
        journal.add_event("OLD-OPEN", TimelineEntry(at=new, event="state", detail="d"))
        journal.add_exchange(exchange(at=old))
        kept_exchange = journal.add_exchange(exchange(at=new))
        gone = journal.open_alert(AlertKind.SEND_FAILED, "retura", ["A"], "m", T0).alert
        journal.release_alert_orders([AlertKind.SEND_FAILED], "retura", ["A"], old)
        journal.add_notification(NotificationRecord(
            alert_id=gone.id, level=1, target="log:alerts", at=T0, status="sent"))
        still_open = journal.open_alert(AlertKind.ACK_OVERDUE, "retura", ["B"], "m", T0).alert
        resolved_late = journal.open_alert(
            AlertKind.RESULT_OVERDUE, "retura", ["C"], "m", T0).alert
        journal.release_alert_orders([AlertKind.RESULT_OVERDUE], "retura", ["C"], new)

        removed = journal.prune(cut)

        # exchange, event, alert, its notification, its order, and the finished order
        assert removed == 6
        assert journal.get_order("OLD-DONE") is None
        assert journal.get_order("OLD-OPEN") is not None
        assert journal.get_order("NEW-DONE") is not None
        assert journal.timeline("OLD-DONE") == []
        assert len(journal.timeline("OLD-OPEN")) == 1
        assert journal.exchanges() == [kept_exchange]
        kept = {a.id for a in journal.alerts(include_resolved=True)}
        assert kept == {still_open.id, resolved_late.id}
        assert journal.notifications() == []
        assert journal.prune(cut) == 0
