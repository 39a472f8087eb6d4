"""The live view of ``filebridge run``: what an operator sees after real exchanges."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from filebridge.engine.runner import TickReport
from filebridge.errors import PartnerUnreachable
from filebridge.observe.live import LiveView, render_snapshot
from filebridge.observe.snapshot import Connection, take_snapshot
from filebridge.transports.memory import MemoryStore
from tests.engine.conftest import World, build_world
from tests.factories import make_ack, make_order
from tests.hostile import (
    BIDI,
    ESCAPES,
    FORGED_LINE,
    MARKUP,
    SHOWN_BIDI,
    SHOWN_ESCAPES,
    SHOWN_FORGED,
    SHOWN_MARKUP,
    assert_shown_as_text,
    on_screen,
)

WIDTH = 220


def screen(renderable: object) -> str:
    console = Console(record=True, width=WIDTH, color_system=None)
    console.print(renderable)
    return console.export_text()


def row_of(text: str, start: str) -> str:
    """The first table line whose first cell begins with ``start``."""
    return next(line for line in text.splitlines() if line.lstrip("│┃ ").startswith(start))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    yield w
    w.bridge.close()
    MemoryStore.forget()


def exchange_three_orders(world: World) -> None:
    """ORD-1 acknowledged, ORD-2 sent and waiting, ORD-3 queued behind a failed send;
    and the partner drops a file that is not a document."""
    for order_id in ("ORD-1", "ORD-2"):
        world.bridge.submit(make_order(order_id))
    world.bridge.run_once()
    world.drop_document(make_ack(world.sent_order("ORD-1")), "ack-1.xml")
    world.drop("from_partner/acks", "garbage.xml", b"not a document")
    world.bridge.submit(make_order("ORD-3"))
    world.store.fail_next("publish", times=1)
    world.clock.advance(seconds=3)  # past settle_time
    world.bridge.run_once()


def test_the_panel_shows_partners_queues_exchanges_and_alerts(world: World) -> None:
    # given orders exchanged end to end on the memory transport
    exchange_three_orders(world)
    # when the live view renders what the daemon knows
    text = screen(render_snapshot(take_snapshot(world.bridge)))
    # then the partner row tells its connection and where its orders wait
    partner = row_of(text, "hauler")
    cells = [cell.strip() for cell in partner.split("│") if cell.strip()]
    assert cells[:3] == ["hauler", "memory", "reachable"]
    assert cells[3:] == ["1", "1", "1", "0"]  # queued, awaiting ack, awaiting result, failed
    # and the exchanges, newest first, with their status
    assert "Last 5 exchanges (newest first)" in text
    lines = text.splitlines()
    garbage = next(i for i, line in enumerate(lines) if "garbage.xml" in line)
    first_send = next(i for i, line in enumerate(lines) if "ORDER_ORD-1_1.xml" in line)
    assert garbage < first_send
    assert "quarantined" in lines[garbage]
    assert "failed" in next(line for line in lines if "ORDER_ORD-3_1.xml" in line)
    assert "ok" in next(line for line in lines if "ack-1.xml" in line)
    # and the open alert about the refused file, with how to acknowledge it
    assert "Open alerts (1)" in text
    assert "quarantined_file" in row_of(text, "1  ")
    assert "filebridge alerts ack ALERT_ID" in text


def test_an_unreachable_partner_shows_since_when_and_why(world: World) -> None:
    # given a partner whose server stopped answering
    world.bridge.submit(make_order("ORD-1"))
    world.store.unreachable = True
    world.bridge.run_once()
    since = world.clock.now()
    world.clock.advance(minutes=4)
    # when the view renders
    snapshot = take_snapshot(world.bridge)
    text = screen(render_snapshot(snapshot))
    # then it says unreachable since when, for how long, the error, and when an alert opens
    assert snapshot.partners[0].connection is Connection.UNREACHABLE
    assert f"unreachable since {since:%Y-%m-%d %H:%M:%S} (4m; alert after 10m)" in text
    assert "last error: partner unreachable (simulated)" in text
    assert "No open alerts." in text
    # and the order still waits, queued
    assert [c.strip() for c in row_of(text, "hauler").split("│") if c.strip()][3] == "1"


def test_before_the_first_tick_a_partner_is_not_contacted_yet(world: World) -> None:
    text = screen(render_snapshot(take_snapshot(world.bridge)))
    assert "not contacted yet" in row_of(text, "hauler")
    assert "No exchanges yet." in text


def test_the_live_view_redraws_after_each_tick(world: World) -> None:
    # given the live view on a terminal
    console = Console(record=True, width=WIDTH, force_terminal=True, color_system=None)
    with LiveView(world.bridge, console, min_interval=0, redirect_stderr=False) as view:
        # when a tick sends an order
        world.bridge.submit(make_order("ORD-9"))
        view.on_tick(world.bridge.run_once())
    # then the panel counted the tick and shows the new exchange
    text = console.export_text()
    assert "ticks 1" in text
    assert "since start: sent 1, picked up 0, received 0" in text
    assert "ORDER_ORD-9_1.xml" in text


def test_a_journal_that_cannot_be_read_does_not_stop_the_daemon(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    # given a live view, and then a journal that fails
    console = Console(record=True, width=WIDTH, force_terminal=True, color_system=None)
    with LiveView(world.bridge, console, min_interval=0, redirect_stderr=False) as view:
        world.bridge.journal.close()
        # when a tick is reported, then the view keeps its last panel and does not raise
        view.on_tick(TickReport(sent=1))
    assert view.ticks == 1
    assert "ticks 0" in console.export_text()  # the panel drawn before the failure stays
    assert "live view not updated" in caplog.text and "closed" in caplog.text


def test_partner_text_in_the_panel_is_shown_as_text(world: World) -> None:
    # given a file whose name holds a bidi override and forges a log line, and a server
    # error quoting markup and escape sequences
    world.drop("from_partner/acks", "garbage" + BIDI + FORGED_LINE, b"not a document")
    world.bridge.run_once()
    world.clock.advance(seconds=3)  # past settle_time
    world.bridge.run_once()
    world.store.fail_next("list", PartnerUnreachable(f"server says {MARKUP} {ESCAPES}"))
    world.bridge.run_once()
    # when the live view draws it on a terminal (colours, hyperlinks and all)
    out = io.StringIO()
    console = Console(file=out, width=1000, force_terminal=True, color_system="truecolor")
    console.print(render_snapshot(take_snapshot(world.bridge)))
    # then it draws (no markup error), shows the text literally and nothing live
    output = out.getvalue()
    assert_shown_as_text(output, terminal=True)
    text = on_screen(output)
    for shown in (*SHOWN_MARKUP, *SHOWN_ESCAPES, SHOWN_FORGED, SHOWN_BIDI):
        assert shown in text, shown
