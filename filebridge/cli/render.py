"""Rich tables for people: the exchange log, order timelines, status and alerts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text

from filebridge.model import Alert, ExchangeRecord, OrderState, OrderView

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


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def exchange_table(records: Iterable[ExchangeRecord], title: str = "Exchange log") -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("id", "time (UTC)", "partner", "dir", "document", "order", "file",
                   "status", "try", "error / reason"):
        table.add_column(column, overflow="fold")
    for rec in records:
        note = rec.error or ""
        if rec.by or rec.reason:
            note = f"resend by {rec.by or '?'}: {rec.reason or '-'}" + (f"; {note}" if note else "")
        table.add_row(
            str(rec.id), when(rec.at), rec.partner, rec.direction.value, rec.document.value,
            rec.order_id or "-", rec.file_name,
            Text(rec.status.value, style=STATUS_STYLE.get(rec.status.value, "")),
            str(rec.attempt or ""), note)
    return table


def status_table(counts: dict[str, dict[str, int]]) -> Table:
    """Partners down, states across; only the states some partner has (fits a terminal)."""
    present = [s for s in OrderState if any(row.get(s.value) for row in counts.values())]
    table = Table(title="Orders by state", title_justify="left")
    table.add_column("partner")
    for state in present:
        table.add_column(state.value, justify="right", style=STATE_STYLE.get(state, ""))
    table.add_column("total", justify="right")
    for partner in sorted(counts):
        row = counts[partner]
        table.add_row(partner, *[str(row.get(s.value, 0) or "") for s in present],
                      str(sum(row.values())))
    return table


def alerts_table(alerts: Iterable[Alert], title: str = "Alerts") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "kind", "partner", "order", "opened (UTC)", "level", "count",
                   "state", "message"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        if alert.resolved_at:
            state = Text(f"resolved {when(alert.resolved_at)}", style="green")
        elif alert.acknowledged_at:
            state = Text(f"acked by {alert.acknowledged_by}", style="yellow")
        else:
            state = Text("OPEN", style="bold red")
        table.add_row(str(alert.id), alert.kind.value, alert.partner, alert.order_id or "-",
                      when(alert.opened_at), str(alert.level), str(alert.count), state,
                      alert.message)
    return table


def orders_table(views: Iterable[OrderView]) -> Table:
    """One line per order: what was asked, where it stands, and the partner's last word."""
    table = Table(title="Orders", title_justify="left")
    for column in ("order", "partner", "action", "state", "last event"):
        table.add_column(column, overflow="fold")
    for view in views:
        last = next((e.detail for e in reversed(view.timeline) if e.event == "exchange"), "")
        table.add_row(view.order_id, view.partner, view.order.action.value,
                      Text(view.state.value, style=STATE_STYLE.get(view.state, "")), last)
    return table


def timeline_table(view: OrderView) -> Table:
    table = Table(title=f"Order {view.order_id} for {view.partner}: "
                        f"{view.state.value}", title_justify="left")
    table.add_column("time (UTC)")
    table.add_column("event")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    for entry in view.timeline:
        table.add_row(when(entry.at), entry.event,
                      Text(entry.state.value, style=STATE_STYLE.get(entry.state, ""))
                      if entry.state else "", entry.detail)
    return table
