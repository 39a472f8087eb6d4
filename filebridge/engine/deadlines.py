"""Deadlines, and orders nobody will send: what waits too long becomes an incident.

An order sent but not acknowledged within ``ack_timeout``, or acknowledged but without
a result within ``result_timeout``, joins its partner's ``ack_overdue`` /
``result_overdue`` incident (opened by the first such order). The order's state does
not change: the partner may still answer, and the order leaves the incident when it
does (the incident resolves when its last order has left).

An order queued for a partner that is no longer in the config would wait for ever
without a word: it joins that partner's ``partner_not_configured`` incident, which
resolves when the partner is configured again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from filebridge.engine.alerts import AlertDesk, incident_message
from filebridge.journal.base import Journal
from filebridge.model import AlertKind, OrderState

DEADLINE_KINDS = (AlertKind.ACK_OVERDUE, AlertKind.RESULT_OVERDUE)


class DeadlineWatch:
    """Adds overdue orders to their partner's incidents, and queued orders of partners
    no longer configured to theirs."""

    def __init__(self, journal: Journal, alerts: AlertDesk,
                 configured: Collection[str] | None = None) -> None:
        self.journal = journal
        self.alerts = alerts
        self.configured = None if configured is None else frozenset(configured)

    def check(self, now: datetime, partners: set[str] | None = None) -> int:
        """Add newly overdue orders to their incidents; return how many incidents
        were newly opened."""
        return self._overdue(now, partners) + self._unconfigured()

    def _overdue(self, now: datetime, partners: set[str] | None) -> int:
        overdue = self.journal.overdue_order_ids(now)
        if not overdue:
            return 0
        already = self.journal.orders_in_open_alerts(DEADLINE_KINDS)
        due: dict[tuple[AlertKind, str], list[str]] = defaultdict(list)
        for order_id, partner, state in overdue:
            if partners is not None and partner not in partners:
                continue
            waiting_for_ack = state in (OrderState.SENT, OrderState.PICKED_UP)
            kind = AlertKind.ACK_OVERDUE if waiting_for_ack else AlertKind.RESULT_OVERDUE
            if (kind, order_id) not in already:
                due[(kind, partner)].append(order_id)
        opened = 0
        for (kind, partner), order_ids in due.items():
            opening = self.alerts.open_for_orders(kind, partner, order_ids,
                                                  incident_message(kind, partner))
            opened += opening.created
        return opened

    def _unconfigured(self) -> int:
        """Queued orders of partners not in the config join an incident per partner;
        the incident of a partner that is configured again resolves."""
        if self.configured is None:
            return 0
        kind = AlertKind.PARTNER_NOT_CONFIGURED
        for alert in self.journal.alerts(kind=kind):
            if alert.partner in self.configured:
                self.alerts.resolve(kind, alert.partner)
        stray = self.journal.queued_orders_outside(self.configured)
        if not stray:
            return 0
        already = self.journal.orders_in_open_alerts([kind])
        opened = 0
        for partner, order_ids in stray.items():
            new = [order_id for order_id in order_ids if (kind, order_id) not in already]
            if new:
                opened += self.alerts.open_for_orders(
                    kind, partner, new, incident_message(kind, partner)).created
        return opened
