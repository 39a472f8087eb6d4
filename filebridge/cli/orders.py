"""Commands that change orders: ``send`` (submit from files) and ``resend``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from pydantic import ValidationError
from rich.progress import Progress

from filebridge.bridge import Bridge, current_user
from filebridge.cli.context import bridge_from, console, error_console, print_json
from filebridge.cli.render import plain
from filebridge.config import parse_duration
from filebridge.errors import (
    ConfigError,
    DocumentError,
    FileBridgeError,
    InvalidOrder,
    NotFound,
)
from filebridge.formats.detect import detect
from filebridge.model import Order, OrderState
from filebridge.model.validation import validation_problems

CONFIRM_ABOVE = 10


def orders_from_file(path: Path) -> list[Order]:
    """Orders from a JSON (one object or a list), XML or CSV file."""
    data = path.read_bytes()
    head = data.lstrip(b"\xef\xbb\xbf").lstrip()[:1]
    if path.suffix.lower() == ".json" or head in (b"{", b"["):
        try:
            raw = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidOrder(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
        items = raw if isinstance(raw, list) else [raw]
        orders = []
        for item in items:
            try:
                orders.append(Order.model_validate(item))
            except ValidationError as exc:
                raise InvalidOrder(f"{path}: invalid order",
                                   validation_problems(exc)) from None
        return orders
    documents = detect(data).codec().decode(data)
    orders = [doc for doc in documents if isinstance(doc, Order)]
    if len(orders) != len(documents):
        raise InvalidOrder(f"{path}: holds acknowledgements or results, not orders")
    return orders


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--partner", default=None, help="Required when several partners are configured.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON receipts.")
@click.pass_context
def send(ctx: click.Context, files: tuple[Path, ...], partner: str | None, as_json: bool) -> None:
    """Submit orders from JSON, XML or CSV files."""
    bridge = bridge_from(ctx)
    if partner is None and len(bridge.config.partners) != 1:
        raise ConfigError("several partners are configured: say which with --partner "
                          f"({', '.join(sorted(bridge.config.partners))})")
    receipts, failures = [], 0
    err = error_console()
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("submitting", total=None)
        for path in files:
            try:
                orders = orders_from_file(path)
            except OSError as exc:
                err.print(plain(f"{path}: cannot read: {exc.strerror}"))
                failures += 1
                continue
            except DocumentError as exc:
                err.print(plain(f"{path}: {exc}"))
                failures += 1
                continue
            for order in orders:
                try:
                    receipts.append(bridge.submit(order, partner=partner))
                except InvalidOrder as exc:
                    err.print(plain(f"{path}: order {order.order_id}: {exc}"))
                    failures += 1
                progress.advance(task)
    if as_json:
        print_json([r.model_dump(mode="json") for r in receipts])
    else:
        for receipt in receipts:
            note = "queued" if receipt.created else f"already submitted ({receipt.state.value})"
            console().print(plain(f"{receipt.order_id} -> {receipt.partner}: {note}"))
    if failures:
        ctx.exit(1)


@click.command()
@click.argument("order_ids", nargs=-1)
@click.option("--state", "state", default=None, type=click.Choice([s.value for s in OrderState]),
              help="Resend every order in this state (with --partner/--since).")
@click.option("--partner", default=None)
@click.option("--since", default=None, help="Only orders submitted within this duration (e.g. 2h).")
@click.option("--reason", default=None, help="Why; recorded on the exchange record.")
@click.option("--by", default=None, help="Who; default: your login name.")
@click.option("--dry-run", is_flag=True, help="List what would be sent; change nothing.")
@click.option("--yes", is_flag=True, help=f"Do not ask for confirmation above {CONFIRM_ABOVE}.")
@click.pass_context
def resend(ctx: click.Context, order_ids: tuple[str, ...], state: str | None,
           partner: str | None, since: str | None, reason: str | None, by: str | None,
           dry_run: bool, yes: bool) -> None:
    """Send orders again as new files (Sequence + 1, new MessageId), recording who and why."""
    if bool(order_ids) == bool(state):
        raise click.UsageError("give ORDER_ID... or --state S (not both)")
    if order_ids and (partner or since):
        raise click.UsageError("--partner and --since go with --state")
    bridge = bridge_from(ctx)
    who = by or current_user()
    targets = list(order_ids) if order_ids else _select(bridge, state, partner, since)
    if not order_ids:
        if not targets:
            console().print(plain("No orders match."))
            return
        if len(targets) > CONFIRM_ABOVE and not (yes or dry_run):
            click.confirm(f"Resend {len(targets)} orders?", abort=True)
    out = console()
    failed = missing = 0
    with Progress(console=out, transient=True,
                  disable=not out.is_terminal or len(targets) < 2) as progress:
        task = progress.add_task("resending", total=len(targets))
        for order_id in targets:
            try:
                order = bridge.resend(order_id, reason=reason, by=who, dry_run=dry_run)
            except FileBridgeError as exc:
                if order_ids and len(order_ids) == 1:
                    raise
                out.print(plain(f"{order_id}: {exc}"))
                failed += 1
                missing += isinstance(exc, NotFound)
                continue
            verb = "would resend" if dry_run else "queued for resend"
            out.print(plain(f"{order_id}: {verb} as sequence {order.sequence} "
                            f"(MessageId {order.message_id})"))
            progress.advance(task)
    if failed:
        # not found (3) only when every order was unknown; any other failure is 1
        ctx.exit(3 if missing == len(targets) else 1)


def _select(bridge: Bridge, state: str | None, partner: str | None,
            since: str | None) -> list[str]:
    if partner is not None:
        bridge.config.partner(partner)
    after = None
    if since is not None:
        try:
            after = bridge.clock.now() - parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    rows = bridge.journal.find_orders(state=OrderState(state) if state else None,
                                      partner=partner, since=after)
    return [row.order_id for row in rows]
