"""Opening and resolving alerts, in one place, so every alert reaches the timeline and
the ``alert`` callback the same way, and a flood of one failure stays one alert."""

from __future__ import annotations

import logging

from filebridge.clock import Clock
from filebridge.engine.events import EventHub
from filebridge.journal.base import Journal
from filebridge.model import Alert, AlertKind, TimelineEntry

log = logging.getLogger("filebridge.alerts")


class AlertDesk:
    """Opens (or bumps) and resolves alerts in the journal."""

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
    ) -> Alert:
        """Open an alert, or count one more occurrence of the open one with the same key."""
        now = self.clock.now()
        alert, created = self.journal.open_alert(kind, partner, order_id, message, now, error)
        if created:
            log.warning("alert %s opened: %s", alert.id, message,
                        extra={"partner": partner, "order_id": order_id, "event": "alert"})
            if order_id:
                self.journal.add_event(
                    order_id,
                    TimelineEntry(at=now, event="alert", detail=f"{kind.value}: {message}",
                                  alert_id=alert.id),
                )
            self.events.emit("alert", alert)
        return alert

    def resolve(self, kind: AlertKind | None, partner: str, order_id: str | None) -> None:
        """Close the matching open alerts: the awaited thing happened."""
        now = self.clock.now()
        for alert in self.journal.resolve_alerts(kind, partner, order_id, now):
            log.info("alert %s resolved (%s)", alert.id, alert.kind.value,
                     extra={"partner": partner, "order_id": order_id, "event": "alert_resolved"})
            if order_id:
                self.journal.add_event(
                    order_id,
                    TimelineEntry(at=now, event="alert", detail=f"{alert.kind.value} resolved",
                                  alert_id=alert.id),
                )
