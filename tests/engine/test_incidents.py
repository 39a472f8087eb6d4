"""Alerts are incidents: a partner's thousand late orders are one alert, told once per
escalation level, shrinking as orders are answered; with a real SMTP server."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filebridge.bridge import Bridge
from filebridge.clock import ManualClock
from filebridge.config import config_from_dict
from filebridge.model import Alert, AlertKind, NotificationStatus, OrderState
from filebridge.transports.memory import MemoryStore
from tests.factories import make_ack, make_order
from tests.servers.http import WebhookServer
from tests.servers.smtp import SmtpServer

PER_PARTNER = 500
PARTNERS = ("north", "south")


class Storm:
    """Two partners on memory folders, escalation by email at 0m and 30m."""

    def __init__(self, tmp_path: Path, smtp_port: int, webhook_url: str) -> None:
        self.roots = {name: f"mem-{uuid.uuid4().hex}" for name in PARTNERS}
        raw: dict[str, Any] = {
            "journal": {"url": f"sqlite:///{tmp_path / 'journal.db'}"},
            "defaults": {"settle_time": "0s", "ack_timeout": "15m", "poll_interval": "30s"},
            "partners": {name: {"transport": "memory", "root": root}
                         for name, root in self.roots.items()},
            "escalation": {"levels": [
                {"after": "0m", "notify": ["email:ops@example.com", "log:alerts",
                                           f"webhook:{webhook_url}"]},
                {"after": "30m", "notify": ["email:oncall@example.com"]}]},
            "notify": {"email": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                                 "sender": "filebridge@example.com", "timeout": 5},
                       "webhook": {"timeout": "5s", "retries": 0}},
        }
        self.config = config_from_dict(raw, tmp_path / "filebridge.toml")
        self.clock = ManualClock()
        self.bridge = Bridge(self.config, clock=self.clock)
        self.opened: list[Alert] = []
        self.bridge.on("alert", self.opened.append)

    def order_ids(self, partner: str) -> list[str]:
        return [f"{partner.upper()}-{n:04d}" for n in range(PER_PARTNER)]

    def run_until(self, done: Any, passes: int = 20) -> None:
        for _ in range(passes):
            self.bridge.run_once()
            if done():
                return
        raise AssertionError("the bridge did not get there")

    def state_count(self, partner: str, state: OrderState) -> int:
        return self.bridge.journal.count_by_state().get(partner, {}).get(state.value, 0)

    def answer(self, partner: str, order_ids: list[str]) -> None:
        """The partner acknowledges these orders (one file each)."""
        store = MemoryStore.named(self.roots[partner])
        for order_id in order_ids:
            row = self.bridge.journal.get_order(order_id)
            assert row is not None
            name = f"from_partner/acks/ACK_{order_id}.xml"
            store.write(name + ".part", make_ack(row.order).to_xml())
            store.rename(name + ".part", name)

    def alert_of(self, partner: str) -> Alert:
        (alert,) = self.bridge.alert_list(partner=partner, kind=AlertKind.ACK_OVERDUE)
        return alert


@pytest.fixture
def storm(tmp_path: Path, smtp_server: SmtpServer,
          webhook_server: WebhookServer) -> Iterator[Storm]:
    world = Storm(tmp_path, smtp_server.port, webhook_server.url)
    for partner in PARTNERS:
        world.bridge.submit_many([make_order(order_id) for order_id in world.order_ids(partner)],
                                 partner=partner)
    world.run_until(lambda: all(world.state_count(p, OrderState.SENT) == PER_PARTNER
                                for p in PARTNERS))
    yield world
    world.bridge.close()
    MemoryStore.forget()


def test_a_thousand_late_orders_are_two_alerts_told_once_per_level(
        storm: Storm, smtp_server: SmtpServer, webhook_server: WebhookServer) -> None:
    # given 1,000 orders sent to two partners, none acknowledged, past ack_timeout
    storm.clock.advance(minutes=16)
    storm.bridge.run_once()

    # then there are exactly two open alerts, one ack_overdue per partner, with every order
    alerts = storm.bridge.alert_list()
    assert sorted((a.kind, a.partner, a.orders) for a in alerts) == [
        (AlertKind.ACK_OVERDUE, p, PER_PARTNER) for p in PARTNERS]
    north = storm.alert_of("north")
    assert north.order_ids == tuple(storm.order_ids("north")[:100]) and north.order_id is None
    # and level 1 mailed each once, naming how many orders and the first few
    mails = smtp_server.wait_for(2)
    assert sorted(m["Subject"] for m in mails) == [
        "[filebridge] ack_overdue north NORTH-0000 +499 more",
        "[filebridge] ack_overdue south SOUTH-0000 +499 more"]
    body = next(m for m in mails if "north" in m["Subject"]).get_content()
    assert "500 orders: NORTH-0000, NORTH-0001, NORTH-0002, NORTH-0003, NORTH-0004 and " \
           "495 more" in body
    assert f"filebridge alerts show {north.id}" in body
    # and the webhook got each incident once, with its orders
    calls = webhook_server.wait_for(2)
    assert sorted((c.json["partner"], c.json["orders"], len(c.json["order_ids"]),
                   c.json["order_id"]) for c in calls) == [
        (p, PER_PARTNER, 100, None) for p in PARTNERS]
    # and the alert callback fired once per incident, carrying its orders
    assert sorted((a.partner, a.orders) for a in storm.opened) == [
        (p, PER_PARTNER) for p in PARTNERS]

    # when the north partner answers half of its orders
    half = storm.order_ids("north")[:PER_PARTNER // 2]
    storm.answer("north", half)
    storm.run_until(lambda: storm.state_count("north", OrderState.ACKNOWLEDGED) == len(half))

    # then its alert shrinks, without a new notification
    shrunk = storm.alert_of("north")
    assert shrunk.id == north.id and shrunk.orders == PER_PARTNER - len(half)
    assert shrunk.order_ids[0] == storm.order_ids("north")[len(half)]
    assert len(smtp_server.messages) == 2 and len(webhook_server.requests) == 2

    # when level 2 is due, each alert is mailed once more
    storm.clock.advance(minutes=31)
    storm.bridge.run_once()
    storm.bridge.run_once()
    assert len(smtp_server.wait_for(4)) == 4
    sent = Counter((n.alert_id, n.level, n.target.split(":")[0])
                   for n in storm.bridge.journal.notifications()
                   if n.status is NotificationStatus.SENT)
    south = storm.alert_of("south")
    assert sent == Counter({(alert_id, level, scheme): 1 for alert_id in (north.id, south.id)
                            for level, scheme in ((1, "email"), (1, "log"), (1, "webhook"),
                                                  (2, "email"))})

    # when the rest of the north orders are answered, its alert resolves
    storm.answer("north", storm.order_ids("north")[PER_PARTNER // 2:])
    storm.run_until(lambda: storm.state_count("north", OrderState.ACKNOWLEDGED) == PER_PARTNER)
    assert [a.partner for a in storm.bridge.alert_list()] == ["south"]
    resolved = storm.bridge.alert(north.id)
    assert resolved.resolved_at is not None and resolved.orders == PER_PARTNER
    # and nobody was told anything more
    storm.clock.advance(hours=3)
    storm.bridge.run_once()
    assert len(smtp_server.messages) == 4


def test_a_resent_order_leaves_its_incident_and_the_timeline_names_it(storm: Storm) -> None:
    storm.clock.advance(minutes=16)
    storm.bridge.run_once()
    south = storm.alert_of("south")
    order_id = storm.order_ids("south")[7]

    # when one late order is resent
    storm.bridge.resend(order_id, reason="partner lost it", by="kari")

    # then it left the incident, which lives on with the others
    after = storm.alert_of("south")
    assert after.id == south.id and after.orders == PER_PARTNER - 1
    assert order_id not in after.order_ids
    members = storm.bridge.journal.alert_members(south.id)
    assert [(m.order_id, m.left_at is not None) for m in members if m.order_id == order_id] \
        == [(order_id, True)]
    # and the order's timeline says which alert it joined and left
    lines = [(e.event, e.alert_id, e.detail) for e in storm.bridge.get(order_id).timeline
             if e.event == "alert"]
    assert lines == [
        ("alert", south.id, f"ack_overdue: in alert {south.id} "
                            "(orders sent to south were not acknowledged in time)"),
        ("alert", south.id, f"ack_overdue: left alert {south.id}")]


def test_a_late_order_joins_the_open_incident_without_a_new_notification(
        storm: Storm, smtp_server: SmtpServer) -> None:
    storm.clock.advance(minutes=16)
    storm.bridge.run_once()
    smtp_server.wait_for(2)
    north = storm.alert_of("north")

    # when one more order is sent to north and misses its deadline too
    storm.bridge.submit(make_order("NORTH-LATE"), partner="north")
    storm.run_until(lambda: storm.state_count("north", OrderState.SENT) == PER_PARTNER + 1)
    storm.clock.advance(minutes=16)
    storm.bridge.run_once()

    # then it joined the open alert, and nobody was told again
    grown = storm.alert_of("north")
    assert grown.id == north.id and grown.orders == PER_PARTNER + 1
    assert grown.count == PER_PARTNER + 1
    assert len(smtp_server.messages) == 2
    assert len(storm.opened) == 2
