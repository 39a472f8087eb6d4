"""Deadlines, alerts and escalation to people, with a real SMTP and HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.model import OrderState
from filebridge.transports.memory import MemoryStore
from tests.engine.conftest import World, build_world
from tests.factories import make_ack, make_order
from tests.servers.http import WebhookServer
from tests.servers.smtp import SmtpServer
from tests.support import free_port


def escalating_world(tmp_path: Path, smtp_port: int, webhook_url: str) -> World:
    world = build_world(tmp_path)
    raw_levels = [
        {"after": "0m", "notify": ["email:ops@example.com"]},
        {"after": "30m", "notify": ["webhook:" + webhook_url]},
    ]
    data = world.config.model_dump()
    data["escalation"] = {"levels": raw_levels}
    data["notify"]["email"].update(smtp_host="127.0.0.1", smtp_port=smtp_port,
                                   sender="filebridge@example.com", timeout=2)
    data["notify"]["webhook"].update(timeout=2, retries=0)
    config = type(world.config).model_validate(data)
    world.bridge.close()
    world.config = config
    world.bridge = Bridge(config, clock=world.clock)
    return world


@pytest.fixture
def chain(tmp_path: Path, smtp_server: SmtpServer,
          webhook_server: WebhookServer) -> Iterator[World]:
    world = escalating_world(tmp_path, smtp_server.port, webhook_server.url)
    yield world
    world.bridge.close()
    MemoryStore.forget()


def send_and_wait(world: World, minutes: float) -> None:
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    world.clock.advance(minutes=minutes)
    world.bridge.run_once()


def test_a_missing_ack_emails_level_one_then_calls_the_webhook_at_level_two(
        chain: World, smtp_server: SmtpServer, webhook_server: WebhookServer) -> None:
    # given an order sent and never acknowledged, past ack_timeout (15m)
    send_and_wait(chain, minutes=16)
    # then level 1 is emailed, with the subject and the commands to act
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == "[filebridge] ack_overdue hauler ORD-1"
    body = mail.get_content()
    assert "filebridge show ORD-1" in body and "filebridge alerts ack" in body
    assert chain.bridge.get("ORD-1").state is OrderState.SENT  # a deadline changes no state
    assert webhook_server.requests == []
    # when the level-2 time (30m after opening) passes
    chain.clock.advance(minutes=31)
    chain.bridge.run_once()
    (call,) = webhook_server.wait_for(1)
    payload = call.json
    assert payload["kind"] == "ack_overdue" and payload["level"] == 2
    assert payload["order_id"] == "ORD-1"
    # and nothing more afterwards
    chain.clock.advance(hours=5)
    chain.bridge.run_once()
    assert len(smtp_server.messages) == 1 and len(webhook_server.requests) == 1


def test_acknowledging_the_alert_stops_escalation(
        chain: World, smtp_server: SmtpServer, webhook_server: WebhookServer) -> None:
    send_and_wait(chain, minutes=16)
    smtp_server.wait_for(1)
    (alert,) = chain.bridge.alert_list()
    chain.bridge.acknowledge_alert(alert.id, by="kari")
    chain.clock.advance(hours=2)
    chain.bridge.run_once()
    assert webhook_server.requests == []
    (acked,) = chain.bridge.alert_list()
    assert acked.acknowledged_by == "kari" and acked.resolved_at is None


def test_a_late_ack_resolves_the_alert(chain: World, smtp_server: SmtpServer) -> None:
    send_and_wait(chain, minutes=16)
    chain.drop_document(make_ack(chain.sent_order("ORD-1")))
    chain.bridge.run_once()
    assert chain.bridge.alert_list() == []
    (resolved,) = chain.bridge.alert_list(include_resolved=True)
    assert resolved.resolved_at is not None
    assert chain.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED


def test_a_restart_between_levels_escalates_exactly_once(
        chain: World, smtp_server: SmtpServer, webhook_server: WebhookServer) -> None:
    send_and_wait(chain, minutes=16)
    smtp_server.wait_for(1)
    # when the daemon restarts (a new Bridge on the same journal) before level 2
    chain.bridge.close()
    chain.bridge = Bridge(chain.config, clock=chain.clock)
    chain.bridge.run_once()
    chain.clock.advance(minutes=31)
    chain.bridge.run_once()
    chain.bridge.run_once()
    webhook_server.wait_for(1)
    assert len(smtp_server.messages) == 1 and len(webhook_server.requests) == 1


def test_an_unreachable_smtp_server_is_journalled_and_retried(
        tmp_path: Path, webhook_server: WebhookServer, smtp_server: SmtpServer) -> None:
    world = escalating_world(tmp_path, free_port(), webhook_server.url)
    send_and_wait(world, minutes=16)
    (alert,) = world.bridge.alert_list()
    (failed,) = world.bridge.journal.notifications(alert.id)
    assert failed.status == "failed" and "127.0.0.1" in (failed.error or "")
    # when the mail server is back (configured to the working one) and time passes
    data = world.config.model_dump()
    data["notify"]["email"]["smtp_port"] = smtp_server.port
    world.bridge.close()
    world.config = type(world.config).model_validate(data)
    world.bridge = Bridge(world.config, clock=world.clock)
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    smtp_server.wait_for(1)
    statuses = [n.status for n in world.bridge.journal.notifications(alert.id)]
    assert statuses == ["failed", "sent"]
    timeline = " ".join(e.detail for e in world.bridge.get("ORD-1").timeline)
    assert "notification to email:ops@example.com: failed" in timeline
    world.bridge.close()


def test_many_failures_on_one_partner_make_one_alert(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    world.bridge.run_once()
    for number in range(500):
        world.drop("from_partner/acks", f"junk-{number:03d}.xml", b"not xml at all")
    world.bridge.run_once()
    alerts = world.bridge.alert_list()
    assert len(alerts) == 1 and alerts[0].count == 500
    assert len(world.files("from_partner/error")) == 1000  # each file and its reason
    world.bridge.close()
