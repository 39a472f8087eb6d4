"""Opening, growing, shrinking, acknowledging and resolving alerts, in one place, so every
alert change reaches the timeline, the log and the ``alert`` callback the same way.

An alert is an incident: one open alert per (kind, partner). A thousand orders whose
acknowledgement is late are one ``ack_overdue`` alert of their partner listing them,
not a thousand alerts; each order's timeline says which alert it joined and left.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from filebridge.clock import Clock
from filebridge.engine.events import EventHub
from filebridge.journal.base import Journal
from filebridge.model import (
    ORDER_ALERT_KINDS,
    Alert,
    AlertKind,
    AlertOpening,
    TimelineEntry,
)

log = logging.getLogger("filebridge.alerts")


def incident_message(kind: AlertKind, partner: str) -> str:
    """What an incident of orders is about, whatever orders it holds now (they are
    listed with it, and counted)."""
    return {
        AlertKind.ACK_OVERDUE: f"orders sent to {partner} were not acknowledged in time",
        AlertKind.RESULT_OVERDUE: f"orders acknowledged by {partner} have no result in time",
        AlertKind.SEND_FAILED: f"orders could not be delivered to {partner} after every attempt",
        AlertKind.PARTNER_NOT_CONFIGURED: (
            f"orders are queued for partner {partner}, which is not in the config; "
            f"nothing sends them until it is configured again"),
    }.get(kind, f"{kind.value} for {partner}")


class AlertDesk:
    """Every change of an alert's state goes through here."""

    def __init__(self, journal: Journal, events: EventHub, clock: Clock) -> None:
        self.journal = journal
        self.events = events
        self.clock = clock

    def open(
        self,
        kind: AlertKind,
        partner: str,
        order_id: str | None,
        message: str,
        error: str | None = None,
    ) -> AlertOpening:
        """Open the partner's alert of this kind, or count one more occurrence of the
        open one; an order (if given) joins it."""
        return self.open_for_orders(kind, partner, [order_id] if order_id else [], message,
                                    error)

    def open_for_orders(
        self,
        kind: AlertKind,
        partner: str,
        order_ids: Sequence[str],
        message: str,
        error: str | None = None,
    ) -> AlertOpening:
        """Open the (kind, partner) incident, or add to the open one, with these orders.
        The ``alert`` callback fires once, when the incident opens."""
        now = self.clock.now()
        opening = self.journal.open_alert(kind, partner, order_ids, message, now, error)
        alert = opening.alert
        with self.journal.transaction():
            for order_id in opening.joined:
                self.journal.add_event(order_id, TimelineEntry(
                    at=now, event="alert", alert_id=alert.id,
                    detail=f"{kind.value}: in alert {alert.id} ({message})"))
        if opening.created:
            log.warning("alert %s opened: %s%s", alert.id, message, _orders_note(alert),
                        extra={"partner": partner, "order_id": alert.order_id,
                               "event": "alert"})
            self.events.emit("alert", alert)
        elif opening.joined:
            log.info("alert %s (%s): %d more order(s), %d now", alert.id, kind.value,
                     len(opening.joined), alert.orders,
                     extra={"partner": partner, "event": "alert_grew"})
        return opening

    def resolve(self, kind: AlertKind, partner: str, order_id: str | None = None) -> None:
        """The awaited thing happened. With an order: it leaves the partner's incident of
        this kind (which resolves when its last order has left); without: the partner's
        alert of this kind resolves."""
        if order_id is not None:
            self.release([kind], partner, order_id)
            return
        now = self.clock.now()
        for alert in self.journal.resolve_alerts(kind, partner, now):
            log.info("alert %s resolved (%s)", alert.id, alert.kind.value,
                     extra={"partner": partner, "event": "alert_resolved"})

    def release(self, kinds: Collection[AlertKind], partner: str, order_id: str) -> None:
        """The order was answered or resent: it leaves its incidents of these kinds."""
        now = self.clock.now()
        wanted = [kind for kind in kinds if kind in ORDER_ALERT_KINDS]
        with self.journal.transaction():
            releases = self.journal.release_alert_orders(wanted, partner, [order_id], now)
            for release in releases:
                done = "; the alert is resolved" if release.resolved else ""
                self.journal.add_event(order_id, TimelineEntry(
                    at=now, event="alert", alert_id=release.alert_id,
                    detail=f"{release.kind.value}: left alert {release.alert_id}{done}"))
        for release in releases:
            if release.resolved:
                log.info("alert %s resolved (%s): its last order %s was answered or resent",
                         release.alert_id, release.kind.value, order_id,
                         extra={"partner": partner, "order_id": order_id,
                                "event": "alert_resolved"})

    def acknowledge(self, alert_id: int, by: str) -> Alert:
        """Somebody is on it: escalation stops. ``KeyError`` if there is no such alert."""
        alert = self.journal.acknowledge_alert(alert_id, by, self.clock.now())
        log.info("alert %s acknowledged by %s", alert.id, by,
                 extra={"partner": alert.partner, "event": "alert_acknowledged"})
        return alert


def _orders_note(alert: Alert) -> str:
    if alert.orders == 1 and alert.order_id:
        return f" (order {alert.order_id})"
    if alert.orders:
        return f" ({alert.orders} orders)"
    return ""
