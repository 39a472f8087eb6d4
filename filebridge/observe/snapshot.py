"""What the daemon knows right now, read in one go: the input of the live view.

A snapshot is plain data taken from the bridge (partner links for reachability, the
journal for counts, exchanges and alerts), so that rendering is a pure function of it
and can be tested by rendering a snapshot, without a terminal or a running daemon.
Taking one costs three small queries; the live view takes one per tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from filebridge.engine.runner import TickReport
from filebridge.model import Alert, ExchangeRecord, OrderState

if TYPE_CHECKING:
    from filebridge.bridge import Bridge
    from filebridge.engine.link import PartnerLink

LAST_EXCHANGES = 20
AWAITING_ACK = (OrderState.SENT, OrderState.PICKED_UP)
AWAITING_RESULT = (OrderState.ACKNOWLEDGED,)


class Connection(StrEnum):
    """How the daemon last got on with a partner's folders."""

    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    NOT_CONTACTED = "not contacted yet"  # no tick has reached the partner so far


@dataclass(frozen=True)
class PartnerSnapshot:
    """One partner: its connection and how many of its orders wait where."""

    name: str
    transport: str
    connection: Connection
    unreachable_since: datetime | None = None
    unreachable_after: float = 0.0  # seconds; past it an alert opens and /healthz fails
    last_error: str | None = None
    retry_at: datetime | None = None
    queued: int = 0
    awaiting_ack: int = 0  # sent or picked up, no acknowledgement yet
    awaiting_result: int = 0  # acknowledged, no result yet
    send_failed: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Everything the live view shows, as of ``at``."""

    at: datetime
    partners: list[PartnerSnapshot]
    exchanges: list[ExchangeRecord]  # newest first
    alerts: list[Alert]  # unresolved, newest first
    ticks: int = 0
    last_tick: TickReport | None = None
    started_at: datetime | None = None
    totals: dict[str, int] = field(default_factory=dict)  # since start: sent, received, ...


def partner_snapshot(link: PartnerLink, counts: dict[str, int]) -> PartnerSnapshot:
    if link.unreachable_since is not None:
        connection = Connection.UNREACHABLE
    elif link.prepared:
        connection = Connection.REACHABLE
    else:
        connection = Connection.NOT_CONTACTED
    return PartnerSnapshot(
        name=link.name,
        transport=link.config.transport,
        connection=connection,
        unreachable_since=link.unreachable_since,
        unreachable_after=link.config.unreachable_after.total_seconds(),
        last_error=link.last_error if connection is Connection.UNREACHABLE else None,
        retry_at=link.retry_connect_at if connection is Connection.UNREACHABLE else None,
        queued=counts.get(OrderState.QUEUED.value, 0),
        awaiting_ack=sum(counts.get(state.value, 0) for state in AWAITING_ACK),
        awaiting_result=sum(counts.get(state.value, 0) for state in AWAITING_RESULT),
        send_failed=counts.get(OrderState.SEND_FAILED.value, 0),
    )


def take_snapshot(bridge: Bridge, *, last: int = LAST_EXCHANGES, ticks: int = 0,
                  last_tick: TickReport | None = None, started_at: datetime | None = None,
                  totals: dict[str, int] | None = None) -> Snapshot:
    """Read the bridge's partners, journal counts, newest exchanges and open alerts.

    Only the partners this daemon serves are shown (``[daemon] partners``), with the
    exchanges and alerts of those partners."""
    links = bridge.engine.links
    served = {link.name for link in links}
    counts = bridge.journal.count_by_state()
    if served >= set(bridge.config.partners):
        exchanges = bridge.exchanges(last=last)
    else:  # this daemon serves some partners; others are another daemon's business
        merged = [rec for name in served for rec in bridge.exchanges(last=last, partner=name)]
        exchanges = sorted(merged, key=lambda rec: rec.id or 0, reverse=True)[:last]
    alerts = [alert for alert in bridge.alert_list() if alert.partner in served]
    return Snapshot(
        at=bridge.clock.now(),
        partners=[partner_snapshot(link, counts.get(link.name, {})) for link in links],
        exchanges=exchanges,
        alerts=alerts,
        ticks=ticks,
        last_tick=last_tick,
        started_at=started_at,
        totals=dict(totals or {}),
    )
