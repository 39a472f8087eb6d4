"""Inbound: acks and results are matched by content, applied once, and filed away;
anything else is refused with a reason and the engine carries on."""

from __future__ import annotations

from pathlib import Path

from filebridge.bridge import Bridge
from filebridge.model import OrderState
from tests.engine.conftest import World, build_world
from tests.factories import make_ack, make_order, make_result


def sent(world: World, order_id: str = "ORD-1") -> None:
    world.bridge.submit(make_order(order_id))
    world.bridge.run_once()


def test_an_accepted_ack_acknowledges_the_order_and_is_archived(world: World) -> None:
    sent(world)
    ack = make_ack(world.sent_order("ORD-1"))
    world.drop_document(ack, "whatever-name.xml")
    world.bridge.run_once()
    view = world.bridge.get("ORD-1")
    assert view.state is OrderState.ACKNOWLEDGED
    assert world.files("from_partner/acks") == []
    assert world.files("from_partner/archive") == ["whatever-name.xml"]
    record = world.bridge.exchanges()[0]
    assert (record.direction, record.document, record.status, record.order_id) == (
        "in", "ack", "ok", "ORD-1")
    acked = [e for e in world.events if getattr(e, "event", None) == "acknowledged"]
    assert acked and acked[0].document == ack


def test_a_rejected_ack_rejects_the_order_with_its_reason(world: World) -> None:
    sent(world)
    world.drop_document(make_ack(world.sent_order("ORD-1"), "rejected"))
    world.bridge.run_once()
    view = world.bridge.get("ORD-1")
    assert view.state is OrderState.REJECTED
    assert any("NO-CAPACITY" in entry.detail for entry in view.timeline)


def test_a_result_before_its_ack_ends_completed_and_keeps_both(world: World) -> None:
    sent(world)
    order = world.sent_order("ORD-1")
    world.drop_document(make_result(order))
    world.bridge.run_once()
    world.drop_document(make_ack(order))
    world.bridge.run_once()
    view = world.bridge.get("ORD-1")
    assert view.state is OrderState.COMPLETED
    details = " ".join(entry.detail for entry in view.timeline)
    assert "result completed" in details and "ack accepted" in details
    assert [r.status for r in world.bridge.exchanges()][:2] == ["ok", "ok"]


def test_a_second_ack_with_a_new_message_id_wins(world: World) -> None:
    sent(world)
    order = world.sent_order("ORD-1")
    world.drop_document(make_ack(order))
    world.bridge.run_once()
    world.drop_document(make_ack(order, "rejected", message_id="ACK-LATER"))
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.REJECTED


def test_a_duplicate_changes_nothing_and_is_logged(world: World) -> None:
    sent(world)
    order = world.sent_order("ORD-1")
    world.drop_document(make_ack(order), "ack1.xml")
    world.bridge.run_once()
    world.drop_document(make_result(order))
    world.bridge.run_once()
    world.drop_document(make_ack(order), "ack1-again.xml")
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.COMPLETED
    latest = world.bridge.exchanges()[0]
    assert latest.status == "duplicate" and latest.file_name == "ack1-again.xml"
    assert "ack1-again.xml" in world.files("from_partner/archive")


def test_a_document_for_an_unknown_order_goes_to_error_dir(world: World) -> None:
    sent(world)
    stranger = make_order("NOBODY-KNOWS")
    world.drop_document(make_ack(stranger), "stranger.xml")
    world.bridge.run_once()
    assert world.files("from_partner/error") == ["stranger.xml", "stranger.xml.reason.txt"]
    reason = world.store.read("from_partner/error/stranger.xml.reason.txt").decode()
    assert "NOBODY-KNOWS" in reason
    record = world.bridge.exchanges()[0]
    assert record.status == "unmatched" and record.order_id == "NOBODY-KNOWS"
    (alert,) = world.bridge.alert_list()
    assert alert.kind == "quarantined_file"


def test_malformed_files_are_quarantined_and_the_next_file_still_applies(world: World) -> None:
    sent(world)
    world.drop("from_partner/acks", "a-broken.xml", b"<Acknowledgement version='1.0'>")
    world.drop("from_partner/acks", "b-empty.xml", b"")
    world.drop("from_partner/acks", "c-hostile.xml",
               b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
               b"<x>&e;</x>")
    world.drop_document(make_ack(world.sent_order("ORD-1")), "d-good.xml")
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED
    errors = world.files("from_partner/error")
    for name in ("a-broken.xml", "b-empty.xml", "c-hostile.xml"):
        assert name in errors and f"{name}.reason.txt" in errors
    assert "root:" not in world.store.read("from_partner/error/c-hostile.xml.reason.txt").decode()
    statuses = {r.file_name: r.status for r in world.bridge.exchanges()}
    assert statuses["a-broken.xml"] == statuses["c-hostile.xml"] == "quarantined"
    (alert,) = world.bridge.alert_list()
    assert alert.kind == "quarantined_file" and alert.count == 3
    # when the operator has dealt with every refused file, the alert resolves
    for name in ("a-broken.xml", "b-empty.xml"):
        world.store.remove(f"from_partner/error/{name}")
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    assert len(world.bridge.alert_list()) == 1
    world.store.remove("from_partner/error/c-hostile.xml")
    world.clock.advance(minutes=1)
    world.bridge.run_once()
    assert world.bridge.alert_list() == []


def test_an_order_instruction_in_the_acks_folder_is_refused_not_stuck(world: World) -> None:
    sent(world)
    world.drop("from_partner/acks", "echo.xml", world.sent_order("ORD-1").to_xml())
    world.bridge.run_once()
    assert "echo.xml" in world.files("from_partner/error")
    reason = world.store.read("from_partner/error/echo.xml.reason.txt").decode()
    assert "only acknowledgements and results" in reason
    assert world.bridge.get("ORD-1").state is OrderState.SENT


def test_max_inbound_size_above_the_default_is_honoured(tmp_path: Path) -> None:
    world = build_world(tmp_path, max_inbound_size="20MB")
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.run_once()
    ack = make_ack(world.sent_order("ORD-1"), reason_text="x" * 1000)
    # an ack padded with 12 MB of comments: over the default limit, under this partner's
    padding = b"<!--" + b"x" * 1000 + b"-->"
    padded = ack.to_xml().replace(b"</Acknowledgement>", padding * 12_000 + b"</Acknowledgement>")
    world.drop("from_partner/acks", "big.xml", padded)
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED
    world.bridge.close()


def test_an_oversized_file_is_quarantined_unread(tmp_path: Path) -> None:
    world = build_world(tmp_path, max_inbound_size="1KB")
    world.bridge.run_once()  # the engine is watching from now on
    world.drop("from_partner/acks", "huge.xml", b"<" + b"x" * 5000)
    world.bridge.run_once()
    record = world.bridge.exchanges()[0]
    assert record.status == "quarantined" and "max_inbound_size" in (record.error or "")
    assert "huge.xml" in world.files("from_partner/error")
    world.bridge.close()


def test_a_file_written_in_place_is_read_only_once_settled(world: World) -> None:
    sent(world)
    data = make_ack(world.sent_order("ORD-1")).to_xml()
    # given a partner writing the file under its final name, in two chunks
    world.store.write("from_partner/acks/slow.xml", data[:40])
    world.bridge.run_once()
    world.clock.advance(seconds=1)
    world.store.write("from_partner/acks/slow.xml", data)
    world.bridge.run_once()
    # then nothing was read while it changed
    assert world.bridge.get("ORD-1").state is OrderState.SENT
    assert world.files("from_partner/error") == []
    # when it has been stable for settle_time (2s)
    world.clock.advance(seconds=2)
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED


def test_temporary_and_dot_files_are_left_alone(world: World) -> None:
    sent(world)
    world.store.write("from_partner/acks/upload.xml.part", b"<half")
    world.store.write("from_partner/acks/.hidden", b"x")
    world.store.write("from_partner/acks/x.filepart", b"x")
    for _ in range(3):
        world.clock.advance(seconds=5)
        world.bridge.run_once()
    assert world.files("from_partner/acks") == [".hidden", "upload.xml.part", "x.filepart"]
    assert [r.direction for r in world.bridge.exchanges()] == ["out"]


def test_an_ack_is_matched_by_content_not_by_folder_or_name(world: World) -> None:
    sent(world)
    ack = make_ack(world.sent_order("ORD-1"))
    world.drop("from_partner/results", "ORDER_OTHER_9.xml", ack.to_xml())
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED


def test_a_csv_file_with_one_bad_row_applies_nothing(tmp_path: Path) -> None:
    world = build_world(tmp_path, format="csv")
    for order_id in ("ORD-1", "ORD-2"):
        world.bridge.submit(make_order(order_id))
    world.bridge.run_once()
    good = make_ack(world.sent_order("ORD-1")).to_csv()
    header, row = good.decode().splitlines()[:2]
    bad_row = row.replace("accepted", "maybe")
    world.drop("from_partner/acks", "acks.csv", f"{header}\n{row}\n{bad_row}\n".encode())
    world.bridge.run_once()
    assert world.bridge.get("ORD-1").state is OrderState.SENT
    assert "acks.csv" in world.files("from_partner/error")
    world.bridge.close()


def test_a_csv_file_of_many_acks_gives_one_record_per_row(tmp_path: Path) -> None:
    world = build_world(tmp_path, format="csv")
    for order_id in ("ORD-1", "ORD-2", "ORD-3"):
        world.bridge.submit(make_order(order_id))
    world.bridge.run_once()
    lines: list[str] = []
    for order_id in ("ORD-1", "ORD-2", "ORD-3"):
        text = make_ack(world.sent_order(order_id)).to_csv().decode().splitlines()
        lines = lines or [text[0]]
        lines.append(text[1])
    world.drop("from_partner/acks", "acks.csv", ("\n".join(lines) + "\n").encode())
    world.bridge.run_once()
    inbound = [r for r in world.bridge.exchanges() if r.direction == "in"]
    assert len(inbound) == 3 and len({r.sha256 for r in inbound}) == 1
    assert {world.bridge.get(o).state for o in ("ORD-1", "ORD-2", "ORD-3")} == {
        OrderState.ACKNOWLEDGED}
    world.bridge.close()


def test_callbacks_run_after_the_change_is_committed(world: World) -> None:
    # given a backend callback that reads the journal through its own connection
    sent(world)
    reader = Bridge(world.config)
    seen: list[OrderState] = []
    world.bridge.on("acknowledged", lambda event: seen.append(reader.get(event.order_id).state))
    world.drop_document(make_ack(world.sent_order("ORD-1")))
    world.bridge.run_once()
    # then it already sees the order acknowledged
    assert seen == [OrderState.ACKNOWLEDGED]
    reader.close()
