"""The live view of ``filebridge run`` on a terminal: one panel, redrawn every tick.

``render_snapshot`` turns a ``Snapshot`` into a rich renderable and does nothing else,
so tests render it into ``Console(record=True)`` and read the text. ``LiveView`` keeps
the panel on screen with rich's ``Live`` and takes a fresh snapshot after each tick,
at most a few times a second however busy the engine is.

Every value in the panel is a ``Text`` (``plain``): partners' file names, errors and
alert messages are shown as text with their control characters escaped, never read as
rich markup, so a partner cannot crash, restyle or hyperlink the operator's screen.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from filebridge.cli.render import STATUS_STYLE, plain, resend_note, when
from filebridge.engine.runner import TickReport
from filebridge.model import Alert, ExchangeRecord
from filebridge.observe.snapshot import Connection, PartnerSnapshot, Snapshot, take_snapshot

if TYPE_CHECKING:
    from filebridge.bridge import Bridge

log = logging.getLogger("filebridge.observe")

TOTAL_KEYS = ("sent", "picked_up", "received", "alerts_opened", "notified")
CONNECTION_STYLE = {
    Connection.REACHABLE: "green",
    Connection.UNREACHABLE: "bold red",
    Connection.NOT_CONTACTED: "dim",
}


def span(delta: timedelta | float) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 4h``: how long, at a glance."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 3600:
        return f"{minutes}m"
    if seconds < 86400:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24}h"


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {values.get(key, 0)}" for key in TOTAL_KEYS)


def header(snapshot: Snapshot) -> Text:
    text = Text()
    text.append(f"{when(snapshot.at)} UTC", style="bold")
    text.append(f"   {len(snapshot.partners)} partner"
                + ("s" if len(snapshot.partners) != 1 else ""))
    if snapshot.started_at is not None:
        text.append(f"   up {span(snapshot.at - snapshot.started_at)}")
    text.append(f"   ticks {snapshot.ticks}")
    if snapshot.last_tick is not None:
        last = snapshot.last_tick
        text.append("\nlast tick: " + _counts({
            "sent": last.sent, "picked_up": last.picked_up, "received": last.received,
            "alerts_opened": last.alerts_opened, "notified": last.notified}))
    if snapshot.totals:
        text.append("\nsince start: " + _counts(snapshot.totals))
    return text


def connection_cell(partner: PartnerSnapshot, now: datetime) -> Text:
    """``reachable``, or since when it is not, why, and when the next try is."""
    style = CONNECTION_STYLE[partner.connection]
    if partner.connection is not Connection.UNREACHABLE or partner.unreachable_since is None:
        return plain(partner.connection.value, style)
    down = now - partner.unreachable_since
    cell = plain(f"unreachable since {when(partner.unreachable_since)} ({span(down)}", style)
    if down.total_seconds() < partner.unreachable_after:
        cell.append(f"; alert after {span(partner.unreachable_after)}")
    cell.append(")")
    if partner.last_error:
        cell.append("\n")
        cell.append(plain(f"last error: {partner.last_error}", "red"))
    if partner.retry_at is not None:
        cell.append(f"\nnext try {when(partner.retry_at)}", style="dim")
    return cell


def partners_table(snapshot: Snapshot) -> Table:
    table = Table(title=plain("Partners"), title_justify="left", expand=True)
    table.add_column("partner", no_wrap=True)
    table.add_column("transport")
    table.add_column("connection", overflow="fold", ratio=1)
    for column in ("queued", "awaiting ack", "awaiting result", "send failed"):
        table.add_column(column, justify="right")
    for partner in snapshot.partners:
        table.add_row(
            plain(partner.name), plain(partner.transport), connection_cell(partner, snapshot.at),
            plain(partner.queued), plain(partner.awaiting_ack), plain(partner.awaiting_result),
            plain(partner.send_failed, "bold red" if partner.send_failed else ""))
    if not snapshot.partners:
        table.add_row(plain("(none served)"), *[plain("")] * 6)
    return table


def exchanges_table(records: list[ExchangeRecord]) -> Table:
    table = Table(title=plain(f"Last {len(records)} exchanges (newest first)"),
                  title_justify="left", expand=True)
    for column in ("time (UTC)", "partner", "dir", "document", "order", "file", "status"):
        table.add_column(column, no_wrap=column in ("time (UTC)", "status"))
    # one line per exchange, so that twenty fit on a screen; `filebridge log` has it all
    table.add_column("error / reason", overflow="ellipsis", no_wrap=True, ratio=1)
    for rec in records:
        table.add_row(plain(when(rec.at)), plain(rec.partner), plain(rec.direction.value),
                      plain(rec.document.value), plain(rec.order_id or "-"),
                      plain(rec.file_name),
                      plain(rec.status.value, STATUS_STYLE.get(rec.status.value, "")),
                      plain(resend_note(rec)))
    return table


def alerts_table(alerts: list[Alert], now: datetime) -> Table:
    table = Table(title=plain(f"Open alerts ({len(alerts)})"), title_justify="left",
                  expand=True)
    for column in ("id", "kind", "partner", "orders", "open for", "level", "count",
                   "taken by"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", overflow="ellipsis", no_wrap=True, ratio=1)
    for alert in alerts:
        taken = alert.acknowledged_by or ""
        message = plain(alert.message)
        if alert.last_error:
            message.append("\n")
            message.append(plain(f"last error: {alert.last_error}"))
        table.add_row(plain(alert.id), plain(alert.kind.value, "yellow" if taken else "bold red"),
                      plain(alert.partner), plain(alert.order_id or alert.orders or "-"),
                      plain(span(now - alert.opened_at)), plain(alert.level),
                      plain(alert.count), plain(taken), message)
    return table


def render_snapshot(snapshot: Snapshot) -> RenderableType:
    """The whole panel: header, partners, open alerts, the last exchanges."""
    parts: list[RenderableType] = [header(snapshot), partners_table(snapshot)]
    # alerts before exchanges: on a short terminal the bottom is what gets cut off
    parts.append(alerts_table(snapshot.alerts, snapshot.at) if snapshot.alerts
                 else Text("No open alerts.", style="green"))
    if snapshot.alerts:
        parts.append(Text("Acknowledge: filebridge alerts ack ALERT_ID --by NAME   "
                          "Details: filebridge show ORDER_ID", style="dim"))
    parts.append(exchanges_table(snapshot.exchanges) if snapshot.exchanges
                 else Text("No exchanges yet.", style="dim"))
    return Panel(Group(*parts), title=plain("filebridge run"),
                 subtitle=plain("Ctrl-C or SIGTERM stops after the current tick"))


class LiveView:
    """Keeps the panel on screen while the daemon serves; ``on_tick`` after each tick.

    ``min_interval`` (seconds) bounds how often a busy engine makes it re-read the
    journal and redraw."""

    def __init__(self, bridge: Bridge, console: Console, *, min_interval: float = 0.25,
                 redirect_stderr: bool = True) -> None:
        self.bridge = bridge
        self.console = console
        self.min_interval = min_interval
        self.redirect_stderr = redirect_stderr
        self.ticks = 0
        self.last_tick: TickReport | None = None
        self.totals = dict.fromkeys(TOTAL_KEYS, 0)
        self.started_at = bridge.clock.now()
        self._drawn_at: float | None = None
        self._live: Live | None = None
        self._failing = False

    def snapshot(self) -> Snapshot:
        return take_snapshot(self.bridge, ticks=self.ticks, last_tick=self.last_tick,
                             started_at=self.started_at, totals=self.totals)

    def __enter__(self) -> LiveView:
        self._live = Live(render_snapshot(self.snapshot()), console=self.console,
                          auto_refresh=False, redirect_stdout=True,
                          redirect_stderr=self.redirect_stderr)
        self._live.start(refresh=True)
        self._drawn_at = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self.redraw()
            self._live.stop()
            self._live = None

    def on_tick(self, report: TickReport) -> None:
        self.ticks += 1
        self.last_tick = report
        for key in TOTAL_KEYS:
            self.totals[key] += getattr(report, key)
        moment = time.monotonic()
        if self._drawn_at is None or moment - self._drawn_at >= self.min_interval:
            self.redraw()

    def redraw(self) -> None:
        """Take a snapshot and draw it. A view must never stop the daemon: if the
        journal cannot be read just now, the last panel stays and the reason is logged
        once (until a redraw succeeds again)."""
        if self._live is None:
            return
        self._drawn_at = time.monotonic()
        try:
            panel = render_snapshot(self.snapshot())
        except Exception as exc:
            if not self._failing:
                log.warning("live view not updated: %s", exc, exc_info=True)
            self._failing = True
            return
        self._failing = False
        self._live.update(panel, refresh=True)
