"""Read-only commands for operators: ``status``, ``log``, ``show``, ``alerts``."""

from __future__ import annotations

import click
from rich.table import Table

from filebridge.cli.context import bridge_from, console, print_json
from filebridge.cli.render import (
    alert_members_table,
    alerts_table,
    exchange_table,
    plain,
    status_table,
    timeline_table,
    when,
)
from filebridge.journal.presence import DaemonHolding
from filebridge.model import AlertKind, ExchangeStatus

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
        out.print(plain("Orders of one: filebridge alerts show ALERT_ID   Acknowledge: "
                        "filebridge alerts ack ALERT_ID..."))
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
@click.option("--partner", default=None, help="Only this partner's alerts.")
@click.option("--kind", default=None, type=click.Choice([k.value for k in AlertKind]),
              help="Only alerts of this kind.")
@click.option("--last", "last", default=None, type=click.IntRange(1),
              help="Only the newest N alerts.")
@json_option
@click.pass_context
def alerts(ctx: click.Context, include_resolved: bool, partner: str | None, kind: str | None,
           last: int | None, as_json: bool) -> None:
    """List alerts (incidents: one per kind and partner), newest first; unresolved ones
    (acknowledged ones marked), --all adds resolved ones.

    \b
    Examples:
      filebridge alerts --partner retura --kind ack_overdue
      filebridge alerts show 12          # one alert with all its orders
      filebridge alerts ack 12 13        # or: filebridge alerts ack --partner retura
    """
    if ctx.invoked_subcommand is not None:
        return
    bridge = bridge_from(ctx)
    found = bridge.alert_list(include_resolved, partner=partner,
                              kind=AlertKind(kind) if kind else None, last=last)
    if as_json:
        print_json([alert.contract_json() for alert in found])
        return
    if not found:
        console().print(plain("No alerts." if include_resolved else "No unresolved alerts."))
        return
    console().print(alerts_table(found))
    console().print(plain("Orders of one: filebridge alerts show ALERT_ID"))


@alerts.command("show")
@click.argument("alert_id", type=int)
@json_option
@click.pass_context
def alerts_show(ctx: click.Context, alert_id: int, as_json: bool) -> None:
    """One alert (an incident) with every order it concerns."""
    bridge = bridge_from(ctx)
    alert = bridge.alert(alert_id)
    members = bridge.journal.alert_members(alert_id)
    if as_json:
        data = alert.contract_json()
        data["members"] = [member.model_dump(mode="json") for member in members]
        print_json(data)
        return
    out = console()
    out.print(alerts_table([alert], title=f"Alert {alert.id}"))
    if alert.last_error:
        out.print(plain(f"Last error: {alert.last_error}"))
    if not members:
        return
    if not alert.resolved_at:
        members = [member for member in members if member.left_at is None]
    out.print(alert_members_table(alert, members))
    out.print(plain("One order's history: filebridge show ORDER_ID"))


@alerts.command("ack")
@click.argument("alert_ids", nargs=-1, type=int)
@click.option("--partner", default=None, help="Every unacknowledged alert of this partner.")
@click.option("--kind", default=None, type=click.Choice([k.value for k in AlertKind]),
              help="With --partner: only alerts of this kind.")
@click.option("--by", default=None, help="Who takes it (default: your login name).")
@click.pass_context
def alerts_ack(ctx: click.Context, alert_ids: tuple[int, ...], partner: str | None,
               kind: str | None, by: str | None) -> None:
    """Acknowledge alerts: escalation stops; each resolves when its cause goes away.

    \b
    Examples:
      filebridge alerts ack 12 13 --by kari
      filebridge alerts ack --partner retura --kind ack_overdue
    """
    if bool(alert_ids) == (partner is not None):
        raise click.UsageError("give ALERT_ID... or --partner P (not both)")
    if kind is not None and partner is None:
        raise click.UsageError("--kind goes with --partner")
    bridge = bridge_from(ctx)
    if alert_ids:
        acked = bridge.acknowledge_alerts(alert_ids, by)
    else:
        assert partner is not None
        acked = bridge.acknowledge_partner_alerts(partner, AlertKind(kind) if kind else None, by)
        if not acked:
            console().print(plain(f"No unacknowledged alerts of partner {partner}"
                                  + (f" of kind {kind}." if kind else ".")))
            return
    for alert in acked:
        console().print(plain(
            f"Alert {alert.id} ({alert.kind.value}, {alert.partner}"
            + (f", {alert.orders} order{'s' if alert.orders != 1 else ''}" if alert.orders
               else "")
            + f") acknowledged by {alert.acknowledged_by}; escalation stopped."))
