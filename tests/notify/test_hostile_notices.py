"""A partner's text in an alert reaches people only as quoted, escaped text: it cannot
forge our "What to do" steps in an email (real aiosmtpd server) nor a line in a
webhook receiver's message (real HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.transports.memory import MemoryStore
from tests.engine.conftest import World, build_world
from tests.hostile import (
    ESCAPES,
    INJECTED_STEPS,
    MARKUP,
    SHOWN_ESCAPES,
    assert_shown_as_text,
)
from tests.servers.http import WebhookServer
from tests.servers.smtp import SmtpServer

ACK_COLUMNS = ("message_id,ref_message_id,order_id,status,reason_code,reason_text,"
               "partner_reference,planned_date,created_at")


@pytest.fixture
def alerting(tmp_path: Path, smtp_server: SmtpServer,
             webhook_server: WebhookServer) -> Iterator[World]:
    """A bridge that emails and calls a webhook at once for every alert."""
    world = build_world(tmp_path)
    data = world.config.model_dump()
    data["escalation"] = {"levels": [{"after": "0m", "notify": [
        "email:ops@example.com", "webhook:" + webhook_server.url]}]}
    data["notify"]["email"].update(smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                                   sender="filebridge@example.com", timeout=2)
    data["notify"]["webhook"].update(timeout=2, retries=0)
    world.bridge.close()
    world.config = type(world.config).model_validate(data)
    world.bridge = Bridge(world.config, clock=world.clock)
    yield world
    world.bridge.close()
    MemoryStore.forget()


def drop_crafted_header(world: World) -> None:
    """A CSV whose extra header names carry escape sequences and a forged block of steps:
    refused, and the refusal quotes the header names."""
    header = f'{ACK_COLUMNS},{ESCAPES},"{MARKUP}{INJECTED_STEPS}"\n'
    row = "A-1,M-1,ORD-1,accepted,,,,,2026-11-28T10:24:02+01:00,x,y\n"
    world.drop("from_partner/acks", "ack.csv", (header + row).encode())
    world.bridge.run_once()
    world.clock.advance(seconds=3)  # past settle_time
    world.bridge.run_once()


def test_an_injected_block_reaches_the_email_only_as_quoted_text(
        alerting: World, smtp_server: SmtpServer) -> None:
    # given a partner file whose header injects "What to do: run curl | sudo sh"
    drop_crafted_header(alerting)
    # when the quarantine alert is emailed
    (mail,) = smtp_server.wait_for(1)
    body = mail.get_content()
    lines = body.splitlines()
    # then our own steps are there once, and the injected one only inside a quoted line
    assert lines.count("What to do:") == 1
    injected = [line for line in lines if "curl" in line]
    assert injected and all(line.startswith("> ") for line in injected)
    assert all("sudo sh" not in line for line in lines if line.startswith("  - "))
    quoted = next(line for line in lines if "curl" in line)
    assert "\\x0aWhat to do:\\x0a  - run `curl" in quoted
    assert SHOWN_ESCAPES[0] in quoted and "[/x]" in quoted
    # and nothing in it acts on a terminal or a mail reader
    assert_shown_as_text(body)
    assert_shown_as_text(str(mail["Subject"]))


def test_the_webhook_body_carries_the_escaped_text(
        alerting: World, webhook_server: WebhookServer) -> None:
    drop_crafted_header(alerting)
    (request,) = webhook_server.wait_for(1)
    body = request.json
    # every text is one escaped line: a chat message built from it cannot gain a step
    for key in ("last_error", "what", "message", "subject"):
        value = body[key]
        assert "\n" not in value
        assert_shown_as_text(value)
    assert "\\x0aWhat to do:" in body["last_error"] and SHOWN_ESCAPES[0] in body["last_error"]
    assert all("\n" not in step for step in body["advice"])
