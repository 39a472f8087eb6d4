"""The Journal contract for alerts as incidents: one open alert per (kind, partner),
whose orders join and leave it; on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from filebridge.journal import Journal
from filebridge.model import ORDER_IDS_LISTED, AlertKind, OrderState
from tests.factories import T0
from tests.journal.conftest import order_row

MINUTE = timedelta(minutes=1)
LATE = AlertKind.ACK_OVERDUE


class TestIncidents:
    def test_orders_of_one_partner_and_kind_gather_in_one_alert(self, journal: Journal) -> None:
        # given an incident opened for two late orders
        first = journal.open_alert(LATE, "retura", ["ORD-1", "ORD-2"], "late", T0)
        # when two more fall due, one of them already in it
        second = journal.open_alert(LATE, "retura", ["ORD-2", "ORD-3"], "late", T0 + MINUTE)

        # then it is the same alert, with the new order added once
        assert first.created and first.joined == ("ORD-1", "ORD-2")
        assert not second.created and second.joined == ("ORD-3",)
        alert = second.alert
        assert alert.id == first.alert.id
        assert (alert.orders, alert.order_ids, alert.order_id) == (
            3, ("ORD-1", "ORD-2", "ORD-3"), None)
        assert alert.count == 3 and alert.opened_at == T0
        assert journal.alerts() == [alert]

    def test_other_partners_and_kinds_are_other_incidents(self, journal: Journal) -> None:
        keys = [
            (LATE, "retura"), (AlertKind.RESULT_OVERDUE, "retura"), (LATE, "depot"),
            (AlertKind.PARTNER_UNREACHABLE, "retura"),
        ]
        for kind, partner in keys:
            orders = [] if kind is AlertKind.PARTNER_UNREACHABLE else ["ORD-1"]
            assert journal.open_alert(kind, partner, orders, "m", T0).created
        listed = journal.alerts()
        assert [(a.kind, a.partner) for a in listed] == keys[::-1]  # newest first
        assert [a.order_id for a in listed] == [None, "ORD-1", "ORD-1", "ORD-1"]

    def test_a_partner_alert_counts_repeats_and_keeps_the_newest_message(
            self, journal: Journal) -> None:
        kind = AlertKind.QUARANTINED_FILE
        opened = journal.open_alert(kind, "retura", [], "latest: a.xml", T0, "bad a")
        again = journal.open_alert(kind, "retura", [], "latest: b.xml", T0 + MINUTE)

        assert opened.created and not again.created
        assert again.alert.id == opened.alert.id
        assert (again.alert.count, again.alert.message, again.alert.last_error) == (
            2, "latest: b.xml", "bad a")
        assert again.alert.opened_at == T0 and again.alert.updated_at == T0 + MINUTE
        assert again.alert.orders == 0 and again.alert.order_ids == ()

    def test_answered_orders_leave_and_the_last_one_resolves_it(self, journal: Journal) -> None:
        alert = journal.open_alert(LATE, "retura", ["ORD-1", "ORD-2", "ORD-3"], "late", T0).alert

        # when two orders are answered
        shrunk = journal.release_alert_orders([LATE, AlertKind.SEND_FAILED], "retura",
                                              ["ORD-1", "ORD-3"], T0 + MINUTE)
        # then they left, and the alert is still open with one order
        assert [(r.alert_id, r.kind, r.left, r.resolved) for r in shrunk] == [
            (alert.id, LATE, ("ORD-1", "ORD-3"), None)]
        still = journal.get_alert(alert.id)
        assert still is not None and still.resolved_at is None
        assert (still.orders, still.order_ids, still.order_id) == (1, ("ORD-2",), "ORD-2")

        # an order of another partner or kind, or one not in it, changes nothing
        assert journal.release_alert_orders([LATE], "depot", ["ORD-2"], T0) == []
        assert journal.release_alert_orders([AlertKind.RESULT_OVERDUE], "retura",
                                            ["ORD-2"], T0) == []
        assert journal.release_alert_orders([LATE], "retura", ["ORD-9"], T0) == []

        # when the last one is answered the alert resolves, remembering all its orders
        last = journal.release_alert_orders([LATE], "retura", ["ORD-2"], T0 + 2 * MINUTE)
        resolved = last[0].resolved
        assert resolved is not None and resolved.resolved_at == T0 + 2 * MINUTE
        assert (resolved.orders, resolved.order_ids) == (3, ("ORD-1", "ORD-2", "ORD-3"))
        assert journal.alerts() == []

        # and a newly late order opens a new incident
        again = journal.open_alert(LATE, "retura", ["ORD-2"], "late", T0 + 3 * MINUTE)
        assert again.created and again.alert.id != alert.id
        assert [m.order_id for m in journal.alert_members(alert.id)] == [
            "ORD-1", "ORD-2", "ORD-3"]

    def test_an_order_that_left_may_join_again(self, journal: Journal) -> None:
        alert = journal.open_alert(LATE, "retura", ["ORD-1", "ORD-2"], "late", T0).alert
        journal.release_alert_orders([LATE], "retura", ["ORD-1"], T0 + MINUTE)
        back = journal.open_alert(LATE, "retura", ["ORD-1"], "late", T0 + 2 * MINUTE)

        assert back.joined == ("ORD-1",) and back.alert.id == alert.id
        assert back.alert.orders == 2
        stays = [(m.order_id, m.left_at) for m in journal.alert_members(alert.id)]
        assert stays == [("ORD-1", T0 + MINUTE), ("ORD-2", None), ("ORD-1", None)]

    def test_order_ids_are_capped_and_orders_counts_all(self, journal: Journal) -> None:
        many = [f"ORD-{n:04d}" for n in range(ORDER_IDS_LISTED + 50)]
        alert = journal.open_alert(LATE, "retura", many, "late", T0).alert

        assert alert.orders == len(many)
        assert alert.order_ids == tuple(many[:ORDER_IDS_LISTED])
        data = alert.contract_json()
        assert data["orders"] == len(many) and len(data["order_ids"]) == ORDER_IDS_LISTED

    def test_resolve_a_partner_alert_outright(self, journal: Journal) -> None:
        down = journal.open_alert(AlertKind.PARTNER_UNREACHABLE, "retura", [], "down", T0).alert
        late = journal.open_alert(LATE, "retura", ["ORD-1"], "late", T0).alert

        resolved = journal.resolve_alerts(AlertKind.PARTNER_UNREACHABLE, "retura", T0 + MINUTE)

        assert [(a.id, a.resolved_at) for a in resolved] == [(down.id, T0 + MINUTE)]
        assert [a.id for a in journal.alerts()] == [late.id]
        assert [a.id for a in journal.alerts(include_resolved=True)] == [late.id, down.id]
        assert journal.resolve_alerts(AlertKind.PARTNER_UNREACHABLE, "retura", T0) == []

    def test_acknowledge_keeps_the_first_and_stays_listed(self, journal: Journal) -> None:
        alert = journal.open_alert(AlertKind.RESULT_OVERDUE, "retura", ["ORD-1"], "l", T0).alert

        acked = journal.acknowledge_alert(alert.id, "kari", T0 + MINUTE)
        journal.acknowledge_alert(alert.id, "ola", T0 + 2 * MINUTE)

        assert (acked.acknowledged_by, acked.acknowledged_at) == ("kari", T0 + MINUTE)
        assert acked.order_id == "ORD-1"
        assert journal.get_alert(alert.id) == acked
        assert journal.alerts() == [acked]
        with pytest.raises(KeyError):
            journal.acknowledge_alert(alert.id + 1000, "kari", T0)
        assert journal.get_alert(alert.id + 1000) is None

    def test_escalation_level_is_recorded(self, journal: Journal) -> None:
        alert = journal.open_alert(AlertKind.SEND_FAILED, "retura", ["ORD-1"], "m", T0).alert
        journal.set_alert_level(alert.id, 2, T0 + MINUTE)
        stored = journal.get_alert(alert.id)
        assert stored is not None and (stored.level, stored.updated_at) == (2, T0 + MINUTE)

    def test_a_claimed_alert_carries_its_orders(self, journal: Journal) -> None:
        alert = journal.open_alert(LATE, "retura", ["ORD-1", "ORD-2"], "late", T0).alert
        claimed = journal.claim_alert(alert.id, "me", T0, T0 + MINUTE)
        assert claimed is not None and claimed.order_ids == ("ORD-1", "ORD-2")


class TestLookups:
    def test_filters_by_partner_kind_and_newest(self, journal: Journal) -> None:
        a = journal.open_alert(LATE, "retura", ["ORD-1"], "m", T0).alert
        b = journal.open_alert(LATE, "depot", ["ORD-2"], "m", T0).alert
        c = journal.open_alert(AlertKind.SEND_FAILED, "retura", ["ORD-3"], "m", T0).alert

        assert [x.id for x in journal.alerts(partner="retura")] == [c.id, a.id]
        assert [x.id for x in journal.alerts(kind=LATE)] == [b.id, a.id]
        assert [x.id for x in journal.alerts(partner="retura", kind=LATE)] == [a.id]
        assert [x.id for x in journal.alerts(last=2)] == [c.id, b.id]

    def test_orders_in_open_alerts(self, journal: Journal) -> None:
        journal.open_alert(LATE, "retura", ["ORD-1", "ORD-2"], "m", T0)
        journal.open_alert(AlertKind.RESULT_OVERDUE, "retura", ["ORD-3"], "m", T0)
        journal.release_alert_orders([LATE], "retura", ["ORD-2"], T0)

        assert journal.orders_in_open_alerts([LATE, AlertKind.RESULT_OVERDUE]) == {
            (LATE, "ORD-1"), (AlertKind.RESULT_OVERDUE, "ORD-3")}
        assert journal.orders_in_open_alerts([AlertKind.SEND_FAILED]) == set()

    def test_queued_orders_of_partners_not_configured(self, journal: Journal) -> None:
        journal.insert_order(order_row("ORD-1", partner="gone"))
        journal.insert_order(order_row("ORD-2", partner="retura"))
        journal.insert_order(order_row("ORD-3", partner="gone", created=MINUTE))
        journal.insert_order(order_row("ORD-4", partner="gone", state=OrderState.SENT))

        assert journal.queued_orders_outside({"retura"}) == {"gone": ["ORD-1", "ORD-3"]}
        assert journal.queued_orders_outside({"retura", "gone"}) == {}
