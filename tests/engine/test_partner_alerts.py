"""Partner-level incidents: files that cannot be filed away, and refused files."""

from __future__ import annotations

import logging

import pytest

from filebridge.errors import TransportError
from filebridge.model import AlertKind, Direction, OrderState
from filebridge.transports.memory import MemoryTransport
from tests.engine.conftest import World
from tests.factories import make_ack, make_order

FAILING_PASSES = 3


def pass_after_settling(world: World) -> int:
    """A pass, and one more once a dropped file has settled; how many files they
    received."""
    received = world.bridge.run_once().received
    world.clock.advance(seconds=3)
    return received + world.bridge.run_once().received


def test_an_unmovable_file_is_received_once_and_alerted_once(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    # given a sent order, and an archive folder nobody may write to for a while
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    transport = world.bridge.engine.links[0].transport
    assert isinstance(transport, MemoryTransport)
    transport.store.fail_next("move", TransportError("permission denied: from_partner/archive"),
                              times=FAILING_PASSES)
    path = world.drop_document(make_ack(world.sent_order("ORD-1")))

    # when the partner's ack arrives and pass after pass it cannot be archived
    with caplog.at_level(logging.DEBUG, logger="filebridge"):
        received = [pass_after_settling(world) for _ in range(FAILING_PASSES)]

    # then it was received and applied once, not once per pass
    assert received == [1] + [0] * (FAILING_PASSES - 1)
    assert world.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED
    inbound = [r for r in world.bridge.exchanges(order_id="ORD-1")
               if r.direction is Direction.IN]
    assert len(inbound) == 1
    assert world.store.exists(path)
    # and one alert opened, with one ERROR line, however many passes failed
    (alert,) = world.bridge.alert_list(kind=AlertKind.MOVE_FAILED)
    assert alert.partner == "hauler" and "permission denied" in (alert.last_error or "")
    assert "ack_" in alert.message and "from_partner/archive" in alert.message
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "could not move" in errors[0].getMessage()
    assert sum(1 for event in world.events if getattr(event, "kind", None)
               is AlertKind.MOVE_FAILED) == 1

    # when the folder can be written again, the file moves and the alert resolves
    assert pass_after_settling(world) == 0
    assert not world.store.exists(path)
    assert world.files("from_partner/archive") == [path.rsplit("/", 1)[1]]
    assert world.bridge.alert_list(kind=AlertKind.MOVE_FAILED) == []


def test_the_quarantine_alert_names_the_newest_refused_file(world: World) -> None:
    world.drop("from_partner/acks", "first-bad.xml", b"<oops")
    pass_after_settling(world)
    world.clock.advance(minutes=5)
    world.drop("from_partner/acks", "second-bad.xml", b"<still oops")
    pass_after_settling(world)

    (alert,) = world.bridge.alert_list(kind=AlertKind.QUARANTINED_FILE)
    assert alert.message.endswith("latest: second-bad.xml")
    assert alert.count == 2
