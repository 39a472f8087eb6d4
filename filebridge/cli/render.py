"""Rich tables for people: the exchange log, order timelines, status and alerts.

Every cell, title and line is a ``rich.text.Text`` built by :func:`plain`: values from
outside (partners' file names, error texts, reasons; orders' own fields) are shown as
text, never read as rich markup (``[/x]`` would crash the command, ``[link=...]`` make a
terminal hyperlink, ``[conceal]`` hide text), with control, bidi and invisible
characters escaped visibly. Nothing here formats a value into a markup string.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text

from filebridge.model import Alert, AlertMember, ExchangeRecord, OrderState, OrderView
from filebridge.outside_text import shown

STATUS_STYLE = {
    "ok": "green", "failed": "red", "quarantined": "red", "duplicate": "yellow",
    "unmatched": "red", "ignored": "dim",
}
STATE_STYLE = {
    OrderState.QUEUED: "cyan", OrderState.SENT: "blue", OrderState.PICKED_UP: "blue",
    OrderState.ACKNOWLEDGED: "green", OrderState.REJECTED: "yellow",
    OrderState.COMPLETED: "bold green", OrderState.NOT_COMPLETED: "yellow",
    OrderState.SEND_FAILED: "bold red",
}


def plain(value: object, style: str = "") -> Text:
    """A cell or a line as text: never markup, outside characters escaped visibly."""
    return Text(shown(str(value)), style=style)


def resend_note(rec: ExchangeRecord) -> str:
    """The error / reason column: who resent it and why, then the error."""
    note = rec.error or ""
    if rec.by or rec.reason:
        note = f"resend by {rec.by or '?'}: {rec.reason or '-'}" + (f"; {note}" if note else "")
    return note


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def exchange_table(records: Iterable[ExchangeRecord], title: str = "Exchange log") -> Table:
    table = Table(title=plain(title), title_justify="left", expand=False)
    for column in ("id", "time (UTC)", "partner", "dir", "document", "order", "file",
                   "status", "try", "error / reason"):
        table.add_column(column, overflow="fold")
    for rec in records:
        table.add_row(
            plain(rec.id), plain(when(rec.at)), plain(rec.partner), plain(rec.direction.value),
            plain(rec.document.value), plain(rec.order_id or "-"), plain(rec.file_name),
            plain(rec.status.value, STATUS_STYLE.get(rec.status.value, "")),
            plain(rec.attempt or ""), plain(resend_note(rec)))
    return table


def status_table(counts: dict[str, dict[str, int]]) -> Table:
    """Partners down, states across; only the states some partner has (fits a terminal)."""
    present = [s for s in OrderState if any(row.get(s.value) for row in counts.values())]
    table = Table(title=plain("Orders by state"), title_justify="left")
    table.add_column("partner")
    for state in present:
        table.add_column(state.value, justify="right", style=STATE_STYLE.get(state, ""))
    table.add_column("total", justify="right")
    for partner in sorted(counts):
        row = counts[partner]
        table.add_row(plain(partner), *[plain(row.get(s.value, 0) or "") for s in present],
                      plain(sum(row.values())))
    return table


def alert_state(alert: Alert) -> Text:
    """OPEN, acked by NAME, or resolved AT: what an operator needs to know first."""
    if alert.resolved_at:
        return plain(f"resolved {when(alert.resolved_at)}", "green")
    if alert.acknowledged_at:
        return plain(f"acked by {alert.acknowledged_by}", "yellow")
    return plain("OPEN", "bold red")


def alert_orders(alert: Alert) -> Text:
    """The order of a one-order incident, or how many orders an incident concerns."""
    if alert.order_id:
        return plain(alert.order_id)
    return plain(alert.orders or "-")


def alerts_table(alerts: Iterable[Alert], title: str = "Alerts") -> Table:
    """One line per incident: a thousand late orders of a partner are one line, its
    orders one command away (``alerts show ID``)."""
    table = Table(title=plain(title), title_justify="left")
    for column in ("id", "kind", "partner", "orders", "opened (UTC)", "level", "state",
                   "message"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("id", "orders", "level") else "left")
    for alert in alerts:
        table.add_row(plain(alert.id), plain(alert.kind.value), plain(alert.partner),
                      alert_orders(alert), plain(when(alert.opened_at)), plain(alert.level),
                      alert_state(alert), plain(alert.message))
    return table


def alert_members_table(alert: Alert, members: Iterable[AlertMember]) -> Table:
    """The orders of one incident, oldest first: when each joined, and left."""
    table = Table(title=plain(f"Orders of alert {alert.id}"), title_justify="left")
    for column in ("order", "joined (UTC)", "left (UTC)"):
        table.add_column(column, overflow="fold")
    for member in members:
        table.add_row(plain(member.order_id), plain(when(member.added_at)),
                      plain(when(member.left_at)))
    return table


def orders_table(views: Iterable[OrderView]) -> Table:
    """One line per order: what was asked, where it stands, and the partner's last word."""
    table = Table(title=plain("Orders"), title_justify="left")
    for column in ("order", "partner", "action", "state", "last event"):
        table.add_column(column, overflow="fold")
    for view in views:
        last = next((e.detail for e in reversed(view.timeline) if e.event == "exchange"), "")
        table.add_row(plain(view.order_id), plain(view.partner), plain(view.order.action.value),
                      plain(view.state.value, STATE_STYLE.get(view.state, "")), plain(last))
    return table


def timeline_table(view: OrderView) -> Table:
    table = Table(title=plain(f"Order {view.order_id} for {view.partner}: {view.state.value}"),
                  title_justify="left")
    table.add_column("time (UTC)")
    table.add_column("event")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    for entry in view.timeline:
        table.add_row(plain(when(entry.at)), plain(entry.event),
                      plain(entry.state.value, STATE_STYLE.get(entry.state, ""))
                      if entry.state else plain(""), plain(entry.detail))
    return table
