"""Read-only commands for operators: ``status``, ``log``, ``show``, ``alerts``."""

from __future__ import annotations

import click
from rich.table import Table

from filebridge.cli.context import bridge_from, console, print_json
from filebridge.cli.render import (
    alerts_table,
    exchange_table,
    plain,
    status_table,
    timeline_table,
    when,
)
from filebridge.journal.presence import DaemonHolding
from filebridge.model import ExchangeStatus

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")


@click.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Orders per state per partner, open alerts, overdue orders."""
    bridge = bridge_from(ctx)
    summary = bridge.status()
    if as_json:
        print_json(summary)
        return
    out = console()
    out.print(status_table(summary["partners"]))
    open_alerts = [a for a in bridge.alert_list() if not a.resolved_at]
    out.print(plain(f"Open alerts: {summary['alerts_open']} "
                    f"({summary['alerts_unacknowledged']} not acknowledged)   "
                    f"Overdue orders: {summary['overdue']}"))
    if open_alerts:
        out.print(alerts_table(open_alerts, title="Open alerts"))
        out.print(plain("See one: filebridge show ORDER_ID   Acknowledge: "
                        "filebridge alerts ack ALERT_ID --by NAME"))
    daemons = bridge.daemons()
    if daemons:
        out.print(daemons_table(daemons))
    else:
        out.print(plain("Daemons: none running (start one with: filebridge run)"))


def daemons_table(daemons: list[DaemonHolding]) -> Table:
    """Who shares the journal: alive or gone, what each serves and holds right now."""
    table = Table(title=plain("Daemons"), title_justify="left", expand=False)
    for column in ("daemon", "host", "pid", "alive", "last seen (UTC)", "partners",
                   "claimed orders", "claimed files"):
        table.add_column(column, overflow="fold")
    for daemon in daemons:
        table.add_row(
            plain(daemon.id), plain(daemon.host), plain(daemon.pid),
            plain("alive", "green") if daemon.alive else plain("gone", "red"),
            plain(when(daemon.last_seen)),
            plain(", ".join(daemon.partners) if daemon.partners else "all"),
            plain(daemon.claimed_orders), plain(daemon.claimed_files))
    return table


@click.command()
@click.option("--last", "last", default=20, show_default=True, type=click.IntRange(1))
@click.option("--partner", default=None)
@click.option("--status", "status_", default=None,
              type=click.Choice([s.value for s in ExchangeStatus]))
@click.option("--order", "order_id", default=None)
@json_option
@click.pass_context
def log(ctx: click.Context, last: int, partner: str | None, status_: str | None,
        order_id: str | None, as_json: bool) -> None:
    """The last N exchange records, newest first."""
    bridge = bridge_from(ctx)
    if partner is not None:
        bridge.config.partner(partner)  # an unknown partner is a usage error
    records = bridge.exchanges(last=last, partner=partner, status=status_, order_id=order_id)
    if as_json:
        print_json([rec.contract_json() for rec in records])
        return
    console().print(exchange_table(records))


@click.command()
@click.argument("order_id")
@json_option
@click.pass_context
def show(ctx: click.Context, order_id: str, as_json: bool) -> None:
    """The order, its state and its whole timeline."""
    bridge = bridge_from(ctx)
    view = bridge.get(order_id)
    if as_json:
        print_json(view.contract_json())
        return
    out = console()
    out.print(timeline_table(view))
    order = view.order
    out.print(plain(
        f"{order.action.value} {order.container.quantity} x {order.container.type_code} "
        f"({order.container.fraction.code}, EWC {order.container.fraction.ewc_code}) at "
        f"{order.site.street}, {order.site.postal_code} {order.site.city}; "
        f"window {order.window.earliest:%Y-%m-%d %H:%M} - {order.window.latest:%H:%M}"))
    out.print(exchange_table(bridge.exchanges(last=50, order_id=order_id),
                             title="Exchanges of this order"))


@click.group(invoke_without_command=True)
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved alerts.")
@json_option
@click.pass_context
def alerts(ctx: click.Context, include_resolved: bool, as_json: bool) -> None:
    """List unresolved alerts (acknowledged ones marked); --all adds resolved ones."""
    if ctx.invoked_subcommand is not None:
        return
    bridge = bridge_from(ctx)
    found = bridge.alert_list(include_resolved)
    if as_json:
        print_json([alert.contract_json() for alert in found])
        return
    if not found:
        console().print(plain("No alerts." if include_resolved else "No unresolved alerts."))
        return
    console().print(alerts_table(found))


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", default=None, help="Who takes it (default: your login name).")
@click.pass_context
def alerts_ack(ctx: click.Context, alert_id: int, by: str | None) -> None:
    """Acknowledge an alert: escalation stops; it resolves when the cause goes away."""
    bridge = bridge_from(ctx)
    alert = bridge.acknowledge_alert(alert_id, by)
    console().print(plain(f"Alert {alert.id} ({alert.kind.value}, {alert.partner}) "
                          f"acknowledged by {alert.acknowledged_by}; escalation stopped."))
