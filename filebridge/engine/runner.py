"""One engine tick: for each partner dispatch, detect pickups and ingest; then deadlines
and escalation. Nothing a partner does (or fails to do) can stop the loop: every
partner's work is guarded, and a partner that cannot be reached is tracked and alerted
on, while its orders wait, queued, without using up attempts.

Several daemons may share the journal and the partners' folders: each tick refreshes
this daemon's heartbeat, and pickup detection writes a row only over the version it
read, so a state another daemon has just recorded (an ack ingested there) is never
turned back to ``picked_up``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from filebridge.clock import Clock
from filebridge.engine.alerts import AlertDesk
from filebridge.engine.deadlines import DeadlineWatch
from filebridge.engine.escalation import Escalator
from filebridge.engine.events import EventHub, OrderEvent
from filebridge.engine.heartbeat import Heartbeat
from filebridge.engine.inbox import Inbox
from filebridge.engine.link import PartnerLink
from filebridge.engine.outbox import Outbox
from filebridge.errors import (
    ConcurrentUpdate,
    HostKeyMismatch,
    PartnerUnreachable,
    TransportError,
)
from filebridge.journal.base import Journal
from filebridge.model import AlertKind, OrderState, TimelineEntry

log = logging.getLogger("filebridge.engine")

IN_FLIGHT_POLL = timedelta(seconds=5)
SAVE_TRIES = 5  # re-reads of a row another daemon keeps writing, before leaving it
# deadlines and escalation count in minutes: a fast tick (a busy daemon loops without
# pause) need not scan overdue orders and open alerts more often than this
WATCH_EVERY = timedelta(seconds=1)


@dataclass
class TickReport:
    """What one tick did, for ``run --once`` and tests."""

    sent: int = 0
    picked_up: int = 0
    received: int = 0
    alerts_opened: int = 0
    notified: int = 0
    unreachable: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.picked_up or self.received or self.notified)


class Engine:
    """Runs the outbox, the pickup check, the inbox, deadlines and escalation."""

    def __init__(self, journal: Journal, links: list[PartnerLink], outbox: Outbox,
                 inbox: Inbox, deadlines: DeadlineWatch, escalator: Escalator,
                 alerts: AlertDesk, events: EventHub, clock: Clock,
                 heartbeat: Heartbeat | None = None) -> None:
        self.journal = journal
        self.links = links
        self.outbox = outbox
        self.inbox = inbox
        self.deadlines = deadlines
        self.escalator = escalator
        self.alerts = alerts
        self.events = events
        self.clock = clock
        self.heartbeat = heartbeat
        self.next_watch: datetime | None = None

    def tick(self, force_poll: bool = False) -> TickReport:
        report = TickReport()
        if self.heartbeat is not None:
            try:
                self.heartbeat.beat(self.clock.now())
            except Exception:
                log.exception("could not record the heartbeat; continuing")
        for link in self.links:
            with self.events.deferred():  # callbacks after the partner's work is committed
                self._partner_tick(link, report, force_poll)
        now = self.clock.now()
        if force_poll or self.next_watch is None or now >= self.next_watch:
            self.next_watch = now + WATCH_EVERY
            partners = {link.name for link in self.links}
            try:
                with self.events.deferred():
                    report.alerts_opened += self.deadlines.check(now, partners)
                    report.notified += self.escalator.tick(partners)
            except Exception:
                log.exception("deadline or escalation pass failed; continuing")
        return report

    def _partner_tick(self, link: PartnerLink, report: TickReport, force_poll: bool) -> None:
        now = self.clock.now()
        if not link.may_connect(now):
            report.unreachable.append(link.name)
            return
        try:
            link.prepare()
            sent = self.outbox.dispatch(link)
            report.sent += sent
            if sent and link.next_poll_at is not None:
                # answers (and pickups) are awaited now: look again soon, not at the
                # end of an idle interval that began before these went out
                soon = self.clock.now() + min(link.config.poll_interval, IN_FLIGHT_POLL)
                link.next_poll_at = min(link.next_poll_at, soon)
            poll_due = force_poll or link.next_poll_at is None or now >= link.next_poll_at
            if poll_due or link.woken:
                # an arrival announced by a watcher is ingested at once; the rest waits
                # for the poll schedule
                report.received += self.inbox.ingest(link)
            if poll_due:
                report.picked_up += self._detect_pickups(link)
                self.inbox.resolve_cleared_quarantine(link)
                link.next_poll_at = self.clock.now() + self._poll_pause(link)
            if link.mark_reachable():
                log.info("partner %s reachable again", link.name, extra={"partner": link.name})
                self.alerts.resolve(AlertKind.PARTNER_UNREACHABLE, link.name, None)
                self.alerts.resolve(AlertKind.HOST_KEY_MISMATCH, link.name, None)
        except HostKeyMismatch as exc:
            link.mark_unreachable(now, str(exc), link.config.backoff_max)
            report.unreachable.append(link.name)
            self.alerts.open(AlertKind.HOST_KEY_MISMATCH, link.name, None,
                             f"the SFTP server of {link.name} offered a host key that does not "
                             f"match known_hosts; nothing is sent or read", error=str(exc))
        except PartnerUnreachable as exc:
            link.mark_unreachable(now, str(exc), link.config.backoff_max)
            report.unreachable.append(link.name)
            log.warning("partner %s unreachable: %s", link.name, exc,
                        extra={"partner": link.name, "event": "unreachable"})
            since = link.unreachable_since or now
            if now - since >= link.config.unreachable_after:
                self.alerts.open(AlertKind.PARTNER_UNREACHABLE, link.name, None,
                                 f"{link.name} has been unreachable since "
                                 f"{since:%Y-%m-%d %H:%M:%SZ}; orders wait queued",
                                 error=str(exc))
        except TransportError as exc:
            log.error("partner %s: %s", link.name, exc, extra={"partner": link.name})
        except Exception:
            log.exception("partner %s: unexpected error; continuing", link.name,
                          extra={"partner": link.name})

    def _poll_pause(self, link: PartnerLink) -> timedelta:
        """Poll soon while files settle or answers are awaited; back off when idle."""
        interval = link.config.poll_interval
        if link.settling:
            return min(interval, max(link.config.settle_time / 2, timedelta(milliseconds=200)))
        waiting = self.journal.count_by_state().get(link.name, {})
        if waiting.get(OrderState.SENT.value) or waiting.get(OrderState.PICKED_UP.value):
            return min(interval, IN_FLIGHT_POLL)
        return interval

    def _detect_pickups(self, link: PartnerLink) -> int:
        """Sent orders whose file has left orders_dir were picked up by the partner."""
        awaiting = self.journal.files_awaiting_pickup(link.name)
        if not awaiting:
            return 0
        present = {f.name for f in link.transport.list(link.config.orders_dir)}
        gone = [name for name in awaiting if name not in present]
        if not gone:
            return 0
        now = self.clock.now()
        picked: list[str] = []
        with self.journal.transaction():
            # in one order on every daemon, so two of them never wait on each other
            for name in sorted(gone):
                for order_id in sorted(awaiting[name]):
                    if self._mark_picked_up(link, order_id, name, now):
                        self.journal.add_event(order_id, TimelineEntry(
                            at=now, event="state", state=OrderState.PICKED_UP,
                            detail=f"{name} left {link.config.orders_dir}"))
                        picked.append(order_id)
        for order_id in picked:
            self.events.emit("picked_up", OrderEvent(
                "picked_up", order_id, link.name, OrderState.PICKED_UP))
        return len(picked)

    def _mark_picked_up(self, link: PartnerLink, order_id: str, name: str,
                        now: datetime) -> bool:
        """``sent`` -> ``picked_up``, written over the version read. A row that moved on
        meanwhile (another daemon recorded the pickup or an answer) is left as it is."""
        for _ in range(SAVE_TRIES):
            row = self.journal.get_order(order_id)
            if row is None or row.state is not OrderState.SENT or row.file_name != name:
                return False
            try:
                picked = {"state": OrderState.PICKED_UP, "picked_up_at": now, "updated_at": now}
                self.journal.save_order(row.model_copy(update=picked), fields=picked.keys())
                return True
            except ConcurrentUpdate:
                continue  # read it again: it may have moved on
        log.warning("order %s keeps changing; pickup left for the next pass", order_id,
                    extra={"partner": link.name, "order_id": order_id})
        return False

    def close(self) -> None:
        """Say goodbye: remove this daemon's heartbeat row."""
        if self.heartbeat is not None:
            try:
                self.heartbeat.stop()
            except Exception:
                log.exception("could not remove the heartbeat")

    def next_wake(self) -> datetime | None:
        """The earliest time a partner wants polling again (the serve loop sleeps until)."""
        times = [link.next_poll_at for link in self.links if link.next_poll_at]
        return min(times) if times else None
