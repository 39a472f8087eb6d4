"""Turn an alert into words an operator can act on, one wording per alert kind.

The escalation engine knows the alert, the level it is notifying, where the partner's
folders are and the last error; it may also have the order's journal row (file name,
send and acknowledgement times) and the partner's folder settings. ``notice_for`` takes
exactly that and writes the sentence about what failed, the steps to take, and the two
commands every notice carries: one to see more, one to acknowledge.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from filebridge.config import PartnerConfig, PartnerPolicy
from filebridge.model import Alert, AlertKind, OrderRow, OrderState
from filebridge.notify.base import AlertNotice
from filebridge.outside_text import shown

__all__ = ["notice_for", "orders_line", "partner_where", "subject_for"]


ORDERS_NAMED = 5
"""How many of an incident's order ids a notice names; the rest are one command away."""


def subject_for(alert: Alert) -> str:
    """``[filebridge] <kind> <partner> <order id>``; the order id only when there is one,
    and for an incident of several orders the first one and how many more."""
    parts = ["[filebridge]", alert.kind.value, alert.partner]
    if alert.order_id:
        parts.append(alert.order_id)
    elif alert.order_ids:
        parts += [alert.order_ids[0], f"+{alert.orders - 1} more"]
    # a header value must stay on one line and show as text, whatever a name holds
    return " ".join(" ".join(shown(part).split()) for part in parts)


def orders_line(alert: Alert, named: int = ORDERS_NAMED) -> str | None:
    """``3 orders: A, B, C`` / ``1000 orders: A, B, C, D, E and 995 more``, or None."""
    if not alert.orders:
        return None
    first = list(alert.order_ids[:named])
    more = alert.orders - len(first)
    listed = ", ".join(first) + (f" and {more} more" if more > 0 else "")
    noun = "order" if alert.orders == 1 else "orders"
    return f"{alert.orders} {noun}: {listed}"


def see_command(alert: Alert) -> str:
    """The command that shows the most about this alert."""
    if alert.order_id:
        return f"filebridge show {shlex.quote(alert.order_id)}"
    if alert.orders:
        return f"filebridge alerts show {alert.id}"
    return f"filebridge log --partner {shlex.quote(alert.partner)} --last 20"


def ack_command(alert: Alert) -> str:
    """The command that acknowledges this alert and so stops its escalation (``--by``
    defaults to the login name, so the line works as pasted)."""
    return f"filebridge alerts ack {alert.id}"


def partner_where(
    partner: PartnerConfig, kind: AlertKind | None = None, root: str | None = None
) -> str:
    """Describe where the partner's folders are, naming the folder this kind is about.

    ``root`` overrides ``partner.root`` so a caller can pass the path already resolved
    against the config file's folder.
    """
    base = root if root is not None else partner.root
    folder = _folder_for(partner, kind)
    path = _join(base, folder) if folder else base
    if partner.transport == "sftp":
        user = f"{partner.username}@" if partner.username else ""
        return f"partner {partner.name}: sftp {user}{partner.host}:{partner.port}, {path}"
    return f"partner {partner.name}: {partner.transport} folder {path}"


def notice_for(
    alert: Alert,
    level: int,
    where: str,
    last_error: str | None = None,
    *,
    order: OrderRow | None = None,
    partner: PartnerPolicy | None = None,
) -> AlertNotice:
    """Build the notice for one alert at one escalation level.

    ``where`` says where the partner's folders are (``partner_where()`` writes one);
    ``last_error`` defaults to the alert's own, then the order's. ``order`` and
    ``partner`` are optional: with them the text names the file, its send time and the
    partner's folder names instead of the defaults.
    """
    facts = _Facts(alert, order, partner or PartnerPolicy(), configured=partner is not None)
    what, advice = _WORDING[alert.kind](facts)
    error = last_error or alert.last_error or (order.last_error if order else None)
    return AlertNotice(
        alert=alert,
        level=level,
        subject=subject_for(alert),
        what=what,
        where=where,
        since=alert.opened_at,
        last_error=error,
        see_command=see_command(alert),
        ack_command=ack_command(alert),
        advice=tuple(advice),
        orders=orders_line(alert),
    )


@dataclass(frozen=True)
class _Facts:
    """What the wording functions may mention, with readable fallbacks."""

    alert: Alert
    order: OrderRow | None
    folders: PartnerPolicy
    configured: bool  # folders and timeouts are the partner's, not the defaults

    def within(self, timeout: timedelta) -> str:
        return f"within {_duration(timeout)}" if self.configured else "within the agreed time"

    @property
    def partner(self) -> str:
        return self.alert.partner

    @property
    def order_id(self) -> str:
        return self.alert.order_id or "(unknown order)"

    @property
    def several(self) -> bool:
        """An incident of more than one order: the wording speaks of all of them."""
        return self.alert.orders > 1

    @property
    def orders(self) -> str:
        """``1000 orders (A, B, C, ...)`` for an incident of several orders."""
        first = ", ".join(self.alert.order_ids[:3])
        return f"{self.alert.orders} orders ({first}, ...)"

    @property
    def file(self) -> str | None:
        return self.order.file_name if self.order else None

    @property
    def resend(self) -> str:
        order_id = shlex.quote(self.alert.order_id) if self.alert.order_id else "ORDER_ID..."
        return f'`filebridge resend {order_id} --reason "..."`'

    @property
    def show(self) -> str:
        return f"`{see_command(self.alert)}`"

    @property
    def check(self) -> str:
        return f"`filebridge check {shlex.quote(self.partner)}`"


def _send_failed(f: _Facts) -> tuple[str, list[str]]:
    attempts = f.order.attempts if f.order and f.order.attempts else None
    tries = f"all {attempts} attempts" if attempts else "every attempt"
    file = f" ({f.file})" if f.file else ""
    if f.several:
        what = (
            f"{f.orders} could not be written to partner {f.partner}'s folder "
            f"{f.folders.orders_dir}: every attempt failed, and filebridge has stopped "
            f"trying."
        )
    else:
        what = (
            f"Order {f.order_id}{file} could not be written to partner {f.partner}'s "
            f"folder {f.folders.orders_dir}: {tries} failed, and filebridge has stopped "
            f"trying."
        )
    return what, [
        f"Run {f.check} to see whether the folder is reachable and writable.",
        "Fix the cause named in the last error.",
        f"Then send the order again: {f.resend}.",
    ]


def _ack_overdue(f: _Facts) -> tuple[str, list[str]]:
    file = f.file or "the instruction file"
    sent = f", sent at {_at(f.order.sent_at)}" if f.order and f.order.sent_at else ""
    if f.several:
        what = (
            f"Partner {f.partner} has not acknowledged {f.orders} "
            f"{f.within(f.folders.ack_timeout)}."
        )
    else:
        what = (
            f"Partner {f.partner} has not acknowledged order {f.order_id} ({file}{sent}) "
            f"{f.within(f.folders.ack_timeout)}."
        )
    if f.order and f.order.state is OrderState.PICKED_UP and f.order.picked_up_at:
        first = (
            f"The partner's system took the file from {f.folders.orders_dir} at "
            f"{_at(f.order.picked_up_at)} but has not answered: ask the partner whether "
            f"it was processed, and whether its acknowledgements reach {f.folders.acks_dir}."
        )
    else:
        first = (
            f"Check that the partner's system picks up files from {f.folders.orders_dir}: "
            f"a file still lying there means the partner is not polling."
        )
    return what, [
        first,
        f"See the order's history: {f.show}.",
        f"If the partner lost the file, send it again: {f.resend}.",
        "The alert resolves by itself when the acknowledgement arrives.",
    ]


def _result_overdue(f: _Facts) -> tuple[str, list[str]]:
    acked = ""
    if f.order and f.order.acknowledged_at:
        acked = f", acknowledged at {_at(f.order.acknowledged_at)},"
    if f.several:
        what = (
            f"Partner {f.partner} accepted {f.orders} but has not sent their results "
            f"{f.within(f.folders.result_timeout)}."
        )
    else:
        what = (
            f"Partner {f.partner} accepted order {f.order_id}{acked} but has not sent its "
            f"result {f.within(f.folders.result_timeout)}."
        )
    return what, [
        f"Ask the partner whether the work was done; its result file belongs in "
        f"{f.folders.results_dir}.",
        f"See the acknowledgement and the planned date: {f.show}.",
        "The alert resolves by itself when the result arrives.",
    ]


def _quarantined_file(f: _Facts) -> tuple[str, list[str]]:
    what = (
        f"A file from partner {f.partner} was refused and moved to "
        f"{f.folders.error_dir}; nothing in it was applied."
    )
    return what, [
        f"Read why in the <file name>.reason.txt beside the file in {f.folders.error_dir}.",
        "Ask the partner to send a corrected file; `filebridge validate FILE` checks one.",
        f"See the refused files: `filebridge log --partner {shlex.quote(f.partner)} "
        f"--status quarantined`.",
    ]


def _host_key_mismatch(f: _Facts) -> tuple[str, list[str]]:
    what = (
        f"The SFTP server of partner {f.partner} offered a host key that does not match "
        f"known_hosts, so filebridge refuses to connect and exchanges no files with it."
    )
    return what, [
        "Confirm the server's new key fingerprint with the partner by phone or another "
        "trusted channel: a changed key can mean someone is impersonating the server.",
        "If the key is genuine, replace the partner's entry in the known_hosts file; "
        "filebridge never adds keys by itself.",
        f"Then run {f.check}; queued orders are sent once the connection works.",
    ]


def _partner_unreachable(f: _Facts) -> tuple[str, list[str]]:
    what = (
        f"Partner {f.partner} cannot be reached; its orders wait as queued, without using "
        f"up attempts, until the connection works again."
    )
    return what, [
        f"Run {f.check} to see which step fails: network, login or folders.",
        "Check the network path, the credentials, and whether the partner's server is up.",
        "Nothing is lost: queued orders are sent as soon as the partner can be reached.",
    ]


def _partner_not_configured(f: _Facts) -> tuple[str, list[str]]:
    count = f.orders if f.several else f"Order {f.order_id}"
    what = (
        f"{count} {'are' if f.several else 'is'} queued for partner {f.partner}, which is "
        f"no longer in the config: nothing will send {'them' if f.several else 'it'}."
    )
    return what, [
        f"If the partner was removed by mistake, add [partners.{f.partner}] to the config "
        "again and restart the daemon: the orders are sent and the alert resolves.",
        f"Otherwise tell the backend: the orders stay queued. See them: {f.show}.",
    ]


def _move_failed(f: _Facts) -> tuple[str, list[str]]:
    what = (
        f"Files from partner {f.partner} were read and journalled, but could not be moved "
        f"to {f.folders.archive_dir} or {f.folders.error_dir}; they stay where the "
        "partner put them and are not applied twice."
    )
    return what, [
        f"Run {f.check} to see whether filebridge may write to those folders.",
        "Fix the folder's permissions or free the disk; the files then move on the "
        "next pass and the alert resolves.",
    ]


_WORDING: dict[AlertKind, Callable[[_Facts], tuple[str, list[str]]]] = {
    AlertKind.SEND_FAILED: _send_failed,
    AlertKind.ACK_OVERDUE: _ack_overdue,
    AlertKind.RESULT_OVERDUE: _result_overdue,
    AlertKind.QUARANTINED_FILE: _quarantined_file,
    AlertKind.HOST_KEY_MISMATCH: _host_key_mismatch,
    AlertKind.PARTNER_UNREACHABLE: _partner_unreachable,
    AlertKind.PARTNER_NOT_CONFIGURED: _partner_not_configured,
    AlertKind.MOVE_FAILED: _move_failed,
}


def _folder_for(partner: PartnerPolicy, kind: AlertKind | None) -> str | None:
    if kind in (AlertKind.SEND_FAILED, AlertKind.ACK_OVERDUE):
        return partner.orders_dir
    if kind is AlertKind.RESULT_OVERDUE:
        return partner.results_dir
    if kind is AlertKind.QUARANTINED_FILE:
        return partner.error_dir
    if kind is AlertKind.MOVE_FAILED:
        return partner.archive_dir
    return None


def _join(base: str, folder: str) -> str:
    return f"{base.rstrip('/')}/{folder.lstrip('/')}" if base else folder


def _at(moment: datetime) -> str:
    """A time as operators read it in a sentence: ``2026-11-28 10:00 UTC``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _duration(delta: timedelta) -> str:
    """A timeout as the config writes it: ``15m``, ``48h``, ``90s``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
