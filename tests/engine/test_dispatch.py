"""Outbound: submitted orders become instruction files, attempts are journalled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.engine.outbox import Outbox
from filebridge.errors import ConcurrentUpdate, InvalidOrder, TransportError
from filebridge.model import Order, OrderRow, OrderState
from tests.engine.conftest import World, build_world
from tests.factories import make_ack, make_order


def test_submit_is_durable_and_queued(world: World, tmp_path: Path) -> None:
    # given an order submitted through the API
    receipt = world.bridge.submit(make_order("ORD-1"), partner="hauler")
    # when another process opens the same journal
    other = Bridge(world.config)
    # then the order is there, queued
    assert receipt.created and receipt.state is OrderState.QUEUED
    assert other.get("ORD-1").state is OrderState.QUEUED
    other.close()


def test_submitting_the_same_order_twice_is_idempotent(world: World) -> None:
    first = world.bridge.submit(make_order("ORD-1"))
    again = world.bridge.submit(make_order("ORD-1", message_id="OTHER-MSG"))
    world.bridge.run_once()
    assert first.created and not again.created
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml"]


def test_the_same_order_id_with_other_content_is_refused(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    with pytest.raises(InvalidOrder, match="already submitted"):
        world.bridge.submit(make_order("ORD-1", notes="changed"))


def test_an_invalid_order_lists_every_problem_and_writes_nothing(world: World) -> None:
    data = make_order("ORD-1").model_dump(mode="json")
    data["container"]["quantity"] = 0
    data["site"]["country_code"] = "XX"
    with pytest.raises(InvalidOrder) as caught:
        world.bridge.submit(data)
    fields = {p.field for p in caught.value.problems}
    assert {"container.quantity", "site.country_code"} <= fields
    world.bridge.run_once()
    assert world.files("to_partner/orders") == []
    assert world.bridge.exchanges() == []


def test_field_and_cross_field_problems_are_listed_together(world: World) -> None:
    data = make_order("ORD-1", action="swap").model_dump(mode="json")
    data["container"]["quantity"] = 0
    data["container"]["container_id"] = None
    data["window"]["latest"] = data["window"]["earliest"]
    with pytest.raises(InvalidOrder) as caught:
        world.bridge.submit(data)
    fields = {p.field for p in caught.value.problems}
    assert {"container.quantity", "container.container_id", "window.latest"} <= fields
    world.bridge.run_once()
    assert world.files("to_partner/orders") == []
    assert world.bridge.exchanges() == []


def test_dispatch_writes_the_instruction_file_and_records_it(world: World) -> None:
    order = make_order("ORD-7")
    world.bridge.submit(order)
    world.bridge.run_once()
    data = world.store.read("to_partner/orders/ORDER_ORD-7_1.xml")
    assert Order.from_xml(data) == order
    (record,) = world.bridge.exchanges()
    assert (record.direction, record.document, record.status, record.attempt) == (
        "out", "order", "ok", 1)
    assert record.sha256 == hashlib.sha256(data).hexdigest() and record.size == len(data)
    assert record.path == "to_partner/orders/ORDER_ORD-7_1.xml"
    assert world.bridge.get("ORD-7").state is OrderState.SENT
    assert [e.event for e in world.events] == ["sent"]


def test_no_temp_file_is_left_and_nothing_is_overwritten(world: World) -> None:
    # given a foreign file already holding the name filebridge would use
    world.store.write("to_partner/orders/ORDER_ORD-1_1.xml", b"somebody else's file")
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    # then the foreign file is intact, the attempt failed and says why
    assert world.store.read("to_partner/orders/ORDER_ORD-1_1.xml") == b"somebody else's file"
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml"]
    (record,) = world.bridge.exchanges()
    assert record.status == "failed" and "never overwrites" in (record.error or "")
    # and once the operator removes it, the retry delivers ours
    world.store.remove("to_partner/orders/ORDER_ORD-1_1.xml")
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    data = world.store.read("to_partner/orders/ORDER_ORD-1_1.xml")
    assert Order.from_xml(data).order_id == "ORD-1"


def test_pickup_is_detected_when_the_file_leaves_orders_dir(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    world.store.remove("to_partner/orders/ORDER_ORD-1_1.xml")
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.PICKED_UP
    assert "picked_up" in [e.event for e in world.events]


def test_a_failed_upload_is_retried_with_backoff(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.engine.links[0].transport.fail_next(  # type: ignore[attr-defined]
        "stage", TransportError("disk full on the partner's server"))
    world.bridge.run_once()
    failed = world.bridge.exchanges()[0]
    assert failed.status == "failed" and failed.attempt == 1
    assert "disk full" in (failed.error or "")
    # when the retry is not yet due, nothing is sent
    world.bridge.run_once()
    assert len(world.bridge.exchanges()) == 1
    # when the backoff has passed (5s initial, jittered to at most 5s)
    world.clock.advance(seconds=5)
    world.bridge.run_once()
    sent = world.bridge.exchanges()[0]
    assert sent.status == "ok" and sent.attempt == 2
    assert world.bridge.get("ORD-1").state is OrderState.SENT


def test_exhausted_attempts_end_in_send_failed_with_an_alert(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    transport = world.bridge.engine.links[0].transport
    transport.fail_next("stage", times=3)  # type: ignore[attr-defined]
    for _ in range(3):
        world.bridge.run_once()
        world.clock.advance(minutes=2)
    assert world.bridge.get("ORD-1").state is OrderState.SEND_FAILED
    assert [r.attempt for r in world.bridge.exchanges()] == [3, 2, 1]
    (alert,) = world.bridge.alert_list()
    assert alert.kind == "send_failed" and alert.order_id == "ORD-1"
    assert {"send_failed", "alert"} <= {getattr(e, "event", "alert") for e in world.events}


def test_an_unreachable_partner_holds_orders_without_using_attempts(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    world.store.unreachable = True
    world.bridge.run_once()
    row = world.bridge.journal.get_order("ORD-1")
    assert row is not None and row.state is OrderState.QUEUED and row.attempts == 0
    assert world.bridge.exchanges() == []
    assert world.bridge.alert_list() == []  # not yet: below unreachable_after
    # when it lasts past unreachable_after (10m)
    for _ in range(12):
        world.clock.advance(minutes=1)
        world.bridge.run_once()
    (alert,) = world.bridge.alert_list()
    assert alert.kind == "partner_unreachable"
    # when it comes back, the order goes out and the alert resolves
    world.store.unreachable = False
    world.clock.advance(minutes=15)
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.SENT
    assert world.bridge.alert_list() == []


def test_a_publish_whose_reply_was_lost_counts_as_delivered(world: World) -> None:
    # given the rename happened but its reply was lost (a dropped link)
    world.bridge.submit(make_order("ORD-1"))
    transport = world.bridge.engine.links[0].transport
    transport.fail_next("publish", TransportError("connection reset"),  # type: ignore[attr-defined]
                        after=True)
    world.bridge.run_once()
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    # then the retry finds the same bytes under the same name: delivered, once
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml"]
    assert world.bridge.get("ORD-1").state is OrderState.SENT
    assert [r.status for r in world.bridge.exchanges()] == ["ok", "failed"]


def test_a_staged_file_the_partner_already_took_counts_as_delivered(world: World) -> None:
    # given the rename happened, the reply was lost, and the partner took the file at once
    world.bridge.submit(make_order("ORD-1"))
    transport = world.bridge.engine.links[0].transport
    transport.fail_next("publish", TransportError("connection reset"),  # type: ignore[attr-defined]
                        after=True)
    world.bridge.run_once()
    world.store.remove("to_partner/orders/ORDER_ORD-1_1.xml")
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    # then it is not sent a second time
    assert world.files("to_partner/orders") == []
    assert world.bridge.get("ORD-1").state in (OrderState.SENT, OrderState.PICKED_UP)
    assert [r.status for r in world.bridge.exchanges()] == ["ok", "failed"]


class Died(BaseException):
    """The daemon's process ends here: nothing after this point runs or commits."""


def test_a_delivery_the_partner_answered_before_the_restart_is_journalled_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a daemon that dies right after renaming the file into place, before it
    # journals "sent", still holding its claim on the order
    world.bridge.submit(make_order("ORD-1"))

    def die(*args: object, **kwargs: object) -> None:
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "_mark_sent", die)
        with pytest.raises(Died):
            world.bridge.run_once()
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml"]
    # and the partner takes the file and acknowledges it before the claim runs out
    world.store.remove("to_partner/orders/ORDER_ORD-1_1.xml")
    world.drop_document(make_ack(world.sent_order("ORD-1")))
    restarted = Bridge(world.config, clock=world.clock)
    restarted.run_once()
    world.clock.advance(seconds=3)  # the ack settles
    restarted.run_once()
    assert restarted.get("ORD-1").state is OrderState.ACKNOWLEDGED
    # when the dead daemon's claim has run out
    world.clock.advance(minutes=6)
    restarted.run_once()
    restarted.run_once()
    # then the delivery is journalled once, with the file's hash, and nothing is resent
    out = [r for r in restarted.exchanges() if r.direction == "out"]
    assert [(r.status, r.file_name) for r in out] == [("ok", "ORDER_ORD-1_1.xml")]
    row = restarted.journal.get_order("ORD-1")
    assert row is not None and out[0].sha256 == hashlib.sha256(row.file_content or b"").hexdigest()
    assert row.sent_at is not None and row.claimed_by is None
    assert restarted.get("ORD-1").state is OrderState.ACKNOWLEDGED
    assert world.files("to_partner/orders") == []
    assert any("partner's answer confirms it arrived" in (entry.detail or "")
               for entry in restarted.get("ORD-1").timeline)
    restarted.close()


def test_a_crash_before_the_temp_was_complete_stages_it_again(world: World) -> None:
    # given staging failed half-way (a partial temp may be left behind)
    world.bridge.submit(make_order("ORD-1"))
    transport = world.bridge.engine.links[0].transport
    transport.fail_next("stage", TransportError("broken pipe"))  # type: ignore[attr-defined]
    world.bridge.run_once()
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    # then the retry writes it again and publishes it
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml"]
    assert Order.from_xml(world.store.read("to_partner/orders/ORDER_ORD-1_1.xml")).order_id == (
        "ORD-1")


def test_csv_partner_gets_csv_files(tmp_path: Path) -> None:
    world = build_world(tmp_path, format="csv", csv_delimiter=";")
    order = make_order("ORD-1")
    world.bridge.submit(order)
    world.bridge.run_once()
    data = world.store.read("to_partner/orders/ORDER_ORD-1_1.csv")
    assert Order.from_csv(data, delimiter=";") == order
    world.bridge.close()


def test_csv_batch_partner_gets_one_file_per_tick(tmp_path: Path) -> None:
    world = build_world(tmp_path, format="csv", csv_batch=True)
    for number in range(3):
        world.bridge.submit(make_order(f"ORD-{number}"))
    world.bridge.run_once()
    (name,) = world.files("to_partner/orders")
    assert name.startswith("ORDERS_") and name.endswith(".csv")
    records = world.bridge.exchanges()
    assert len(records) == 3 and len({r.sha256 for r in records}) == 1
    assert {r.file_name for r in records} == {name}
    world.bridge.close()


def test_a_resend_is_a_new_file_with_who_and_why(world: World) -> None:
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    first = world.sent_order("ORD-1")
    world.bridge.resend("ORD-1", reason="partner lost the file", by="kari")
    world.bridge.run_once()
    second = world.sent_order("ORD-1")
    assert world.files("to_partner/orders") == ["ORDER_ORD-1_1.xml", "ORDER_ORD-1_2.xml"]
    assert second.sequence == 2 and second.message_id != first.message_id
    record = world.bridge.exchanges()[0]
    assert (record.file_name, record.by, record.reason) == (
        "ORDER_ORD-1_2.xml", "kari", "partner lost the file")


def test_a_callback_that_raises_does_not_stop_the_engine(world: World) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("bug in the backend's handler")

    world.bridge.on("sent", broken)
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.submit(make_order("ORD-2"))
    world.bridge.run_once()
    assert len(world.files("to_partner/orders")) == 2


def test_a_resend_survives_a_daemon_writing_the_order_meanwhile(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a daemon that writes the order between the resend's read and its write, once
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    journal = world.bridge.journal
    real_save = journal.save_order
    raced: list[bool] = []

    def save_once_stale(row: OrderRow) -> None:
        if not raced:
            raced.append(True)
            raise ConcurrentUpdate(row.order_id, row.version)
        real_save(row)

    monkeypatch.setattr(journal, "save_order", save_once_stale)
    # when the operator resends, then it is queued as the next sequence all the same
    world.bridge.resend("ORD-1", reason="partner lost it", by="kari")
    monkeypatch.undo()
    assert raced == [True]
    row = world.bridge.journal.get_order("ORD-1")
    assert row is not None and row.state is OrderState.QUEUED and row.order.sequence == 2
