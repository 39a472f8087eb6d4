"""The Journal port: the durable memory of orders, exchanges, alerts and notifications.

Everything the engine decides is written here before it acts on the outside world,
so that ``kill -9`` at any moment loses nothing and a restart neither skips nor
double-counts. ``transaction()`` groups many writes into one commit (the engine uses
one per poll batch); outside a transaction every write commits on its own.

Claims: ``claim_due_orders`` marks rows with the claimant and a lease expiry in the
same statement that selects them, so two daemons sharing one database never take the
same order. A daemon that dies leaves claims that expire and are taken over.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from filebridge.model import (
    Alert,
    AlertKind,
    ExchangeRecord,
    NotificationRecord,
    OrderRow,
    OrderState,
    TimelineEntry,
)


class Journal(ABC):
    """Durable storage behind the engine. Thread-safe: one connection per thread."""

    # -- lifecycle ---------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one commit; nested use joins the outer transaction."""

    @abstractmethod
    def schema_version(self) -> int:
        """The migration number the database is at."""

    @abstractmethod
    def close(self) -> None:
        """Close connections; safe to call twice."""

    # -- orders ------------------------------------------------------------------
    @abstractmethod
    def insert_order(self, row: OrderRow) -> bool:
        """Store a new order; return False (and change nothing) if its id exists."""

    @abstractmethod
    def get_order(self, order_id: str) -> OrderRow | None:
        """The order's row, or None."""

    @abstractmethod
    def save_order(self, row: OrderRow) -> None:
        """Overwrite the stored row of ``row.order_id`` with ``row``, claim fields included.
        Raises ``OrderNotFound`` if no such order exists."""

    @abstractmethod
    def claim_due_orders(
        self, partner: str, now: datetime, limit: int, claimant: str, lease_until: datetime
    ) -> list[OrderRow]:
        """Atomically claim up to ``limit`` orders of ``partner`` in state ``queued`` whose
        ``next_attempt_at`` is due (<= now, or unset) and that are unclaimed or whose claim
        expired (``claim_expires_at`` <= now). Oldest first (by ``created_at``, then by
        insertion). The returned rows carry the new claim."""

    @abstractmethod
    def release_claim(self, order_id: str, claimant: str) -> None:
        """Drop this claimant's claim on the order (after it was handled)."""

    @abstractmethod
    def orders_in_states(
        self, states: Sequence[OrderState], partner: str | None = None
    ) -> list[OrderRow]:
        """Orders in any of ``states`` (optionally of one partner), oldest first."""

    @abstractmethod
    def files_awaiting_pickup(self, partner: str) -> dict[str, list[str]]:
        """``{file name: [order ids]}`` of the partner's orders in state ``sent``: what
        pickup detection compares with the orders folder. Cheap: no documents are read."""

    @abstractmethod
    def find_orders(
        self,
        state: OrderState | None = None,
        partner: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[OrderRow]:
        """Filtered orders for operators (``resend --state``); ``since`` on created_at."""

    @abstractmethod
    def count_by_state(self) -> dict[str, dict[str, int]]:
        """``{partner: {state: count}}`` for ``status``."""

    @abstractmethod
    def overdue_orders(self, now: datetime) -> list[OrderRow]:
        """Orders past their ack or result deadline and still waiting for it: state
        ``sent``/``picked_up`` with ``ack_due_at`` <= now, or state ``acknowledged`` with
        ``result_due_at`` <= now. Oldest first."""

    # -- exchanges ---------------------------------------------------------------
    @abstractmethod
    def add_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        """Append a record; returns it with its ``id``."""

    @abstractmethod
    def exchanges(
        self,
        last: int = 20,
        partner: str | None = None,
        status: str | None = None,
        order_id: str | None = None,
    ) -> list[ExchangeRecord]:
        """The newest ``last`` records matching the filters, newest first (by id, i.e. the
        order they were journalled in, not by ``at``)."""

    @abstractmethod
    def inbound_message_seen(self, partner: str, message_id: str) -> bool:
        """Whether an inbound document with this MessageId was already applied: a record
        with direction ``in``, this partner, this ``message_id`` and status ``ok`` exists."""

    @abstractmethod
    def last_inbound_record(
        self, partner: str, path: str, sha256: str
    ) -> ExchangeRecord | None:
        """The newest inbound record of this partner for the file found at ``path`` with
        this content hash, or None. The inbox uses it after a crash: a file that was
        journalled but not yet moved to the archive is moved without being applied twice."""

    # -- timeline ----------------------------------------------------------------
    @abstractmethod
    def add_event(self, order_id: str, entry: TimelineEntry) -> None:
        """Append a line to the order's timeline."""

    @abstractmethod
    def timeline(self, order_id: str) -> list[TimelineEntry]:
        """The order's whole history, oldest first by ``at``; entries with the same
        time in the order they were added."""

    # -- alerts ------------------------------------------------------------------
    @abstractmethod
    def open_alert(
        self,
        kind: AlertKind,
        partner: str,
        order_id: str | None,
        message: str,
        now: datetime,
        error: str | None = None,
    ) -> tuple[Alert, bool]:
        """Open an alert, or bump the count (and last error) of the unresolved one with the
        same (kind, partner, order id). Returns the alert and whether it was newly opened."""

    @abstractmethod
    def resolve_alerts(
        self, kind: AlertKind | None, partner: str, order_id: str | None, now: datetime
    ) -> list[Alert]:
        """Resolve the unresolved alerts matching (kind or any, partner, order id), and
        return them; ``order_id=None`` matches the partner's alerts without an order id."""

    @abstractmethod
    def acknowledge_alert(self, alert_id: int, by: str, now: datetime) -> Alert:
        """Mark acknowledged (stops escalation); raises ``KeyError`` if unknown. The first
        acknowledgement is kept: acknowledging again changes nothing."""

    @abstractmethod
    def get_alert(self, alert_id: int) -> Alert | None:
        """One alert, or None."""

    @abstractmethod
    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        """Unresolved alerts (acknowledged ones too), newest first (by id); all with the
        flag."""

    @abstractmethod
    def set_alert_level(self, alert_id: int, level: int, now: datetime) -> None:
        """Record that escalation ``level`` has been fully notified."""

    @abstractmethod
    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        """Journal one notification attempt, sent or failed."""

    @abstractmethod
    def notifications(self, alert_id: int | None = None) -> list[NotificationRecord]:
        """Notification attempts, oldest first (of one alert, or all)."""

    # -- housekeeping -------------------------------------------------------------
    @abstractmethod
    def prune(self, before: datetime) -> int:
        """Delete exchange records and events older than ``before``, alerts resolved before
        it (with their notifications), and orders in a final state that finished before it
        (with their timelines); return how many rows went. Open alerts and unfinished
        orders always stay."""

