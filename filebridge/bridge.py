"""The Bridge facade: the library API the app backend uses, wired from the config.

    bridge = Bridge.from_config("filebridge.toml")
    bridge.submit(order, partner="retura")   # durable before it returns
    bridge.run_once()                        # or bridge.serve() until bridge.stop()
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from filebridge.clock import Clock, SystemClock
from filebridge.config import BridgeConfig, PartnerConfig, load_config
from filebridge.engine.alerts import AlertDesk
from filebridge.engine.deadlines import DeadlineWatch
from filebridge.engine.escalation import Escalator
from filebridge.engine.events import EventHub
from filebridge.engine.heartbeat import Heartbeat
from filebridge.engine.inbox import Inbox
from filebridge.engine.instructions import with_rendered_file
from filebridge.engine.link import PartnerLink
from filebridge.engine.outbox import Outbox
from filebridge.engine.runner import Engine, TickReport
from filebridge.errors import (
    AlertNotFound,
    ConcurrentUpdate,
    ConfigError,
    DocumentError,
    InvalidOrder,
    OrderNotFound,
    PartnerNotConfigured,
    Problem,
)
from filebridge.formats.base import Codec, codec_for
from filebridge.formats.xml import XmlCodec
from filebridge.journal import open_journal
from filebridge.journal.base import Journal
from filebridge.journal.presence import DaemonHolding, daemon_holdings
from filebridge.model import (
    Alert,
    AlertKind,
    ExchangeRecord,
    Order,
    OrderRow,
    OrderState,
    OrderView,
    Receipt,
    TimelineEntry,
)
from filebridge.model.validation import cross_field_problems, validation_problems
from filebridge.notify import NotifierSet
from filebridge.transports.factory import open_transport

log = logging.getLogger("filebridge")

RESEND_TRIES = 5  # re-reads when a daemon writes the order while it is being resent

# Fields that may differ between two submissions of the same order (a backend retrying
# a submit regenerates them); everything else must match for the repeat to be idempotent.
_VOLATILE = {"message_id", "created_at", "sequence"}


class Bridge:
    """Submit orders, run the exchange, and ask what happened."""

    def __init__(self, config: BridgeConfig, *, clock: Clock | None = None,
                 journal: Journal | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.journal: Journal = journal or open_journal(config.journal_url())
        self.events = EventHub()
        self.alerts = AlertDesk(self.journal, self.events, self.clock)
        self.claimant = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._links: dict[str, PartnerLink] | None = None
        self._engine: Engine | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by stop() and by watchers on arrival
        self._notifiers: NotifierSet | None = None

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Bridge:
        """Build from a TOML file: PATH, else $FILEBRIDGE_CONFIG, else ./filebridge.toml."""
        return cls(load_config(path), **kwargs)

    # -- the backend's verbs -----------------------------------------------------
    def submit(self, order: Order | dict[str, Any], partner: str | None = None) -> Receipt:
        """Validate and store an order; it is durable when this returns (state ``queued``).

        Submitting the same OrderId again returns the stored order's receipt with
        ``created=False``; the same id with different content raises ``InvalidOrder``.
        """
        return self.submit_many([order], partner)[0]

    def submit_many(self, orders: Sequence[Order | dict[str, Any]],
                    partner: str | None = None) -> list[Receipt]:
        """``submit`` for a burst of orders, in one journal transaction: every order is
        validated first, and either all are stored or (on ``InvalidOrder``) none."""
        partner_cfg = self._partner_for_submit(partner)
        codec = codec_for(partner_cfg.format, partner_cfg.csv_delimiter)
        now = self.clock.now()
        rows = [self._prepared_row(self._validate(order), partner_cfg, codec, now)
                for order in orders]
        with self.journal.transaction():
            created = [self.journal.insert_order(row) for row in rows]
            for row, new in zip(rows, created, strict=True):
                if new:
                    self.journal.add_event(row.order_id, TimelineEntry(
                        at=now, event="submitted", state=OrderState.QUEUED,
                        detail=f"submitted for {partner_cfg.name} ({row.order.action.value})"))
        return [Receipt(order_id=row.order_id, partner=row.partner, state=OrderState.QUEUED,
                        created=True) if new else self._repeat(row)
                for row, new in zip(rows, created, strict=True)]

    def _prepared_row(self, order: Order, partner: PartnerConfig, codec: Codec,
                      now: datetime) -> OrderRow:
        """The journal row of a new order, with its instruction file already rendered
        (and so XSD-checked) unless the partner gets batches, rendered at dispatch."""
        row = OrderRow(order_id=order.order_id, partner=partner.name, state=OrderState.QUEUED,
                       order=order, created_at=now, updated_at=now, next_attempt_at=now)
        if partner.csv_batch:
            XmlCodec().encode([order])  # the XSD check; the batch file is made at dispatch
            return row
        try:
            return with_rendered_file(row, codec)
        except DocumentError as exc:
            raise InvalidOrder(f"invalid order {order.order_id}", exc.problems) from None

    def _repeat(self, row: OrderRow) -> Receipt:
        existing = self.journal.get_order(row.order_id)
        assert existing is not None
        if existing.partner != row.partner or _business(existing.order) != _business(row.order):
            raise InvalidOrder(
                f"order {row.order_id} was already submitted with different content or "
                f"partner; an order cannot be changed by submitting it again",
                [Problem("use a new OrderId for a new order", field="order_id")])
        return Receipt(order_id=existing.order_id, partner=existing.partner,
                       state=existing.state, created=False)

    def get(self, order_id: str) -> OrderView:
        """The order, its state and its whole timeline; ``OrderNotFound`` if unknown."""
        row = self.journal.get_order(order_id)
        if row is None:
            raise OrderNotFound(order_id)
        return OrderView(order_id=row.order_id, partner=row.partner, state=row.state,
                         order=row.order, timeline=self.journal.timeline(order_id))

    def exchanges(self, last: int = 100, partner: str | None = None,
                  status: str | None = None, order_id: str | None = None) -> list[ExchangeRecord]:
        """The newest exchange records, newest first."""
        return self.journal.exchanges(last=last, partner=partner, status=status,
                                      order_id=order_id)

    def resend(self, order_id: str, reason: str | None = None, by: str | None = None,
               dry_run: bool = False) -> Order:
        """Queue the order again as a new file: Sequence + 1, a new MessageId, same OrderId.

        Who and why are recorded on the exchange record of the new file. With
        ``dry_run`` nothing changes; the returned Order is what would be sent.
        """
        for _ in range(RESEND_TRIES - 1):
            try:
                return self._resend_once(order_id, reason, by, dry_run)
            except ConcurrentUpdate:
                continue  # a daemon wrote the order (a claim, an ack) since we read it
        return self._resend_once(order_id, reason, by, dry_run)

    def _resend_once(self, order_id: str, reason: str | None, by: str | None,
                     dry_run: bool) -> Order:
        row = self.journal.get_order(order_id)
        if row is None:
            raise OrderNotFound(order_id)
        if row.partner not in self.config.partners:
            raise PartnerNotConfigured(order_id, row.partner)
        now = self.clock.now()
        order = row.order.model_copy(update={
            "message_id": f"{row.order_id[:40]}-{row.order.sequence + 1}-{uuid.uuid4().hex[:12]}",
            "sequence": row.order.sequence + 1,
            "created_at": now,
        })
        if dry_run:
            return order
        who = by or current_user()
        with self.journal.transaction():
            self.journal.save_order(row.model_copy(update={
                "order": order, "state": OrderState.QUEUED, "updated_at": now,
                "attempts": 0, "next_attempt_at": now, "file_name": None, "file_content": None,
                "file_path": None, "sent_at": None, "picked_up_at": None,
                "acknowledged_at": None, "finished_at": None, "ack_due_at": None,
                "result_due_at": None, "last_error": None, "resend_by": who,
                "resend_reason": reason, "claimed_by": None, "claim_expires_at": None,
            }))
            self.journal.add_event(order_id, TimelineEntry(
                at=now, event="resend", state=OrderState.QUEUED,
                detail=f"resend as sequence {order.sequence} by {who}"
                       + (f": {reason}" if reason else "")))
            self.alerts.release(
                (AlertKind.SEND_FAILED, AlertKind.ACK_OVERDUE, AlertKind.RESULT_OVERDUE),
                row.partner, order_id)
        log.info("order %s queued for resend by %s", order_id, who,
                 extra={"partner": row.partner, "order_id": order_id, "event": "resend"})
        return order

    def acknowledge_alert(self, alert_id: int, by: str | None = None) -> Alert:
        """Stop escalating an alert: somebody is on it."""
        try:
            return self.alerts.acknowledge(alert_id, by or current_user())
        except KeyError:
            raise AlertNotFound(alert_id) from None

    def acknowledge_alerts(self, alert_ids: Sequence[int], by: str | None = None) -> list[Alert]:
        """Acknowledge several alerts; ``AlertNotFound`` (and nothing acknowledged) if
        any id is unknown."""
        for alert_id in alert_ids:
            if self.journal.get_alert(alert_id) is None:
                raise AlertNotFound(alert_id)
        return [self.acknowledge_alert(alert_id, by) for alert_id in dict.fromkeys(alert_ids)]

    def acknowledge_partner_alerts(self, partner: str, kind: AlertKind | None = None,
                                   by: str | None = None) -> list[Alert]:
        """Acknowledge every unresolved, unacknowledged alert of a partner (of one kind)."""
        return [self.acknowledge_alert(alert.id, by)
                for alert in self.journal.alerts(partner=partner, kind=kind)
                if alert.acknowledged_at is None]

    def alert(self, alert_id: int) -> Alert:
        """One alert (an incident) with its orders; ``AlertNotFound`` if unknown."""
        alert = self.journal.get_alert(alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    def status(self) -> dict[str, Any]:
        """The ``status --json`` summary: counts per state per partner, alerts, overdue."""
        counts = self.journal.count_by_state()
        for name in self.config.partners:
            counts.setdefault(name, {})
        unresolved = [a for a in self.journal.alerts() if not a.resolved_at]
        return {
            "partners": counts,
            "alerts_open": len(unresolved),
            "alerts_unacknowledged": sum(1 for a in unresolved if not a.acknowledged_at),
            "overdue": len(self.journal.overdue_order_ids(self.clock.now())),
            "daemons": [daemon.status_json() for daemon in self.daemons()],
        }

    def daemons(self) -> list[DaemonHolding]:
        """The daemons sharing this journal: alive or not, and the claims each holds."""
        now = self.clock.now()
        return daemon_holdings(self.journal.daemons(), self.journal.claims_held(now), now)

    def alert_list(self, include_resolved: bool = False, *, partner: str | None = None,
                   kind: AlertKind | None = None, last: int | None = None) -> list[Alert]:
        """Unresolved alerts, newest first (``include_resolved`` adds the others)."""
        return self.journal.alerts(include_resolved, partner=partner, kind=kind, last=last)

    def on(self, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``acknowledged``, ``rejected``, ``completed``,
        ``not_completed``, ``send_failed``, ``alert`` (also ``sent``, ``picked_up``)."""
        self.events.on(event, callback)

    # -- running -----------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._build_engine()
        return self._engine

    def run_once(self) -> TickReport:
        """One full pass: dispatch, pickups, ingest, deadlines, escalation."""
        return self.engine.tick(force_poll=True)

    def serve(self, on_tick: Callable[[TickReport], None] | None = None) -> None:
        """Run until ``stop()``; wakes early when a watched folder reports a file.

        A ``stop()`` that comes before ``serve()`` starts is honoured (it returns at once);
        once it has returned, ``serve()`` may be called again."""
        tick = self.config.daemon.tick.total_seconds()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                report = self.engine.tick()
                if on_tick is not None:
                    on_tick(report)
                if not report.busy:
                    self._wake.wait(tick)
        finally:
            self._stop.clear()

    def stop(self) -> None:
        """Ask ``serve`` to return after the current tick (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        self.stop()
        if self._engine is not None:
            self._engine.close()
        for link in (self._links or {}).values():
            link.transport.close()
        if self._notifiers is not None:
            self._notifiers.close()
        self.journal.close()

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wiring ------------------------------------------------------------------
    def _build_engine(self) -> Engine:
        served = self.config.daemon.partners
        self._links = {}
        for name, partner in self.config.partners.items():
            if served is not None and name not in served:
                continue
            self._links[name] = PartnerLink(
                partner, open_transport(partner, self.config, self.clock), on_wake=self._wake)
        self._notifiers = NotifierSet(self.config.notify)
        outbox = Outbox(self.journal, self.alerts, self.events, self.clock, self.claimant,
                        self.config.daemon.lease)
        inbox = Inbox(self.journal, self.alerts, self.events, self.clock, self.claimant,
                      self.config.daemon.lease)
        escalator = Escalator(self.journal, self.config, self._notifiers, self.clock,
                              self.claimant, self.config.daemon.lease)
        heartbeat = Heartbeat(self.journal, self.clock, self.claimant, served)
        return Engine(self.journal, list(self._links.values()), outbox, inbox,
                      DeadlineWatch(self.journal, self.alerts, self.config.partners),
                      escalator, self.alerts,
                      self.events, self.clock, heartbeat)

    def _partner_for_submit(self, partner: str | None) -> PartnerConfig:
        if partner is not None:
            return self.config.partner(partner)
        if len(self.config.partners) == 1:
            return next(iter(self.config.partners.values()))
        known = ", ".join(sorted(self.config.partners)) or "none configured"
        raise ConfigError(f"say which partner to send to ({known})")

    def _validate(self, order: Order | dict[str, Any]) -> Order:
        """The model's rules (the XSD follows when the file is rendered)."""
        try:
            return order if isinstance(order, Order) else Order.model_validate(order)
        except ValidationError as exc:
            problems = validation_problems(exc)
            seen = {problem.field for problem in problems}
            problems += [p for p in cross_field_problems(order) if p.field not in seen]
            raise InvalidOrder("invalid order", problems) from None


def _business(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json", exclude=_VOLATILE)


def current_user() -> str:
    """Who an operator is, for ``--by`` defaults: the login name."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"

