"""Escalation: walk an alert up the configured levels until a person acknowledges it.

Level N's ``after`` counts from the alert's opening. Every notification attempt is
journalled (sent or failed); a target that has been sent at a level is never sent
again at that level, so a restart neither skips nor repeats a level. A failed target
is retried on later ticks with a growing pause, so an SMTP outage does not become a
notification storm.

Several daemons: an alert that has a level due is claimed (a lease on the alert row)
before its history is read, and the claim is renewed before each notification, so
only one daemon at a time decides what to send for it, and each (level, target) is
notified once. The lease bounds how long a dead daemon keeps an alert from the others.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from filebridge.clock import Clock
from filebridge.config import BridgeConfig, EscalationLevel
from filebridge.errors import NotifyError
from filebridge.journal.base import Journal
from filebridge.model import (
    Alert,
    NotificationRecord,
    NotificationStatus,
    TimelineEntry,
)
from filebridge.notify import NotifierSet, notice_for, partner_where

log = logging.getLogger("filebridge.escalation")

RETRY_FIRST = timedelta(seconds=15)
RETRY_MAX = timedelta(minutes=10)
DEFAULT_LEASE = timedelta(minutes=5)


def due_levels(levels: list[EscalationLevel], age: timedelta) -> int:
    """How many levels are due for an alert of this age (levels sorted by ``after``)."""
    return sum(1 for level in levels if level.after <= age)


class Escalator:
    """Sends what is due for every unacknowledged, unresolved alert."""

    def __init__(self, journal: Journal, config: BridgeConfig, notifiers: NotifierSet,
                 clock: Clock, claimant: str | None = None,
                 lease: timedelta = DEFAULT_LEASE) -> None:
        self.journal = journal
        self.config = config
        self.notifiers = notifiers
        self.clock = clock
        self.claimant = claimant or f"escalator-{uuid.uuid4().hex[:12]}"
        self.lease = lease

    def tick(self, partners: set[str] | None = None) -> int:
        """Notify every due level; return how many notifications were sent."""
        now = self.clock.now()
        sent = 0
        for alert in self.journal.alerts():
            if alert.acknowledged_at or alert.resolved_at:
                continue
            if partners is not None and alert.partner not in partners:
                continue
            sent += self._escalate_claimed(alert, now)
        return sent

    def _escalate_claimed(self, alert: Alert, now: datetime) -> int:
        """Escalate under a claim on the alert; skip it while another daemon holds it."""
        levels = sorted(self.config.escalation_levels(alert.partner), key=lambda lv: lv.after)
        if due_levels(levels, now - alert.opened_at) <= alert.level:
            return 0  # every due level is fully notified: no claim needed to know that
        claimed = self.journal.claim_alert(alert.id, self.claimant, now, now + self.lease)
        if claimed is None:
            return 0  # another daemon is escalating it, or it was acknowledged meanwhile
        try:
            return self._escalate(claimed, now)
        finally:
            self.journal.release_alert(alert.id, self.claimant)

    def _escalate(self, alert: Alert, now: datetime) -> int:
        """Send what is due; ``alert`` is claimed and as committed (its level current)."""
        levels = sorted(self.config.escalation_levels(alert.partner), key=lambda lv: lv.after)
        due = due_levels(levels, now - alert.opened_at)
        if due <= alert.level:
            return 0  # every due level is fully notified
        history = self.journal.notifications(alert.id)
        delivered = {(n.level, n.target) for n in history if n.status is NotificationStatus.SENT}
        failures: dict[tuple[int, str], list[NotificationRecord]] = defaultdict(list)
        for n in history:
            if n.status is NotificationStatus.FAILED:
                failures[(n.level, n.target)].append(n)
        sent = attempts = 0
        complete_level = alert.level
        for number in range(1, due + 1):
            level_done = True
            for target in levels[number - 1].notify:
                if (number, target) in delivered:
                    continue
                tried = failures.get((number, target), [])
                if tried and now < tried[-1].at + _retry_pause(len(tried)):
                    level_done = False
                    continue
                if attempts and self.journal.claim_alert(
                        alert.id, self.claimant, now, self.clock.now() + self.lease) is None:
                    return sent  # acknowledged meanwhile (or the lease was lost): stop
                attempts += 1
                if self._notify(alert, number, target, now):
                    sent += 1
                else:
                    level_done = False
            if level_done and number == complete_level + 1:
                complete_level = number
        if complete_level > alert.level:
            self.journal.set_alert_level(alert.id, complete_level, now)
        return sent

    def _notify(self, alert: Alert, level: int, target: str, now: datetime) -> bool:
        partner = self.config.partners.get(alert.partner)
        where = partner_where(partner, alert.kind, str(self.config.resolve_path(partner.root))
                              if partner.transport == "local" else None) if partner else (
            f"partner {alert.partner}")
        order = self.journal.get_order(alert.order_id) if alert.order_id else None
        notice = notice_for(alert, level, where=where, last_error=alert.last_error,
                            order=order, partner=partner)
        error: str | None = None
        try:
            self.notifiers.send(target, notice)
        except NotifyError as exc:
            error = str(exc)
        status = NotificationStatus.FAILED if error else NotificationStatus.SENT
        with self.journal.transaction():
            self.journal.add_notification(NotificationRecord(
                alert_id=alert.id, level=level, target=target, at=now, status=status,
                error=error))
            if alert.order_id:
                self.journal.add_event(alert.order_id, TimelineEntry(
                    at=now, event="notification", alert_id=alert.id,
                    detail=f"level {level} notification to {target}: {status.value}"
                           + (f" ({error})" if error else "")))
        if error:
            log.warning("notifying %s about alert %s failed: %s", target, alert.id, error,
                        extra={"partner": alert.partner, "order_id": alert.order_id,
                               "event": "notification_failed"})
        else:
            log.info("notified %s about alert %s (level %s)", target, alert.id, level,
                     extra={"partner": alert.partner, "order_id": alert.order_id,
                            "event": "notification_sent"})
        return error is None


def _retry_pause(failures: int) -> timedelta:
    pause: timedelta = min(RETRY_FIRST * (2 ** min(failures - 1, 10)), RETRY_MAX)
    return pause
