"""The Journal port: the durable memory of orders, exchanges, alerts and notifications.

Everything the engine decides is written here before it acts on the outside world,
so that ``kill -9`` at any moment loses nothing and a restart neither skips nor
double-counts. ``transaction()`` groups many writes into one commit (the engine uses
one per poll batch); outside a transaction every write commits on its own.

Claims: ``claim_due_orders`` marks rows with the claimant and a lease expiry in the
same statement that selects them, so two daemons sharing one database never take the
same order. A daemon that dies leaves claims that expire and are taken over. Inbound
files (``claim_inbound_files``) and alert escalation (``claim_alert``) are claimed the
same way, with a lease.

Optimistic concurrency: every write of an order row bumps its ``version``, and
``save_order`` writes only over the version it read. A row changed meanwhile by another
daemon raises ``ConcurrentUpdate`` instead of being overwritten; the engine reads the
row again and applies its change to what is there now.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from filebridge.journal.presence import DaemonRecord
from filebridge.model import (
    Alert,
    AlertKind,
    AlertMember,
    AlertOpening,
    AlertRelease,
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

    def probe_write(self) -> None:
        """Raise ``JournalError`` unless the journal accepts writes right now; change
        nothing. ``/healthz`` calls it: a daemon whose journal refuses writes cannot
        record what it does, so it must not look healthy. This default only opens a
        transaction; implementations make it exercise a real write."""
        with self.transaction():
            pass

    # -- orders ------------------------------------------------------------------
    @abstractmethod
    def insert_order(self, row: OrderRow) -> bool:
        """Store a new order; return False (and change nothing) if its id exists."""

    @abstractmethod
    def get_order(self, order_id: str) -> OrderRow | None:
        """The order's row, or None."""

    @abstractmethod
    def save_order(self, row: OrderRow, fields: Collection[str] | None = None) -> None:
        """Overwrite the stored row of ``row.order_id`` with ``row``, claim fields included,
        if the stored row is still at ``row.version``; the stored version goes up by one
        and so does ``row.version`` (so the caller may save the same row again).

        ``fields`` names the only fields to write (the caller changed just these): the
        version check is the same, the statement smaller, and the order document is
        not written again unless ``order`` is among them.

        Raises ``ConcurrentUpdate`` when the row was changed since ``row`` was read, and
        ``OrderNotFound`` if no such order exists. Inside a transaction that is later
        rolled back, ``row.version`` is ahead of the database: read the row again."""

    @abstractmethod
    def claim_due_orders(
        self, partner: str, now: datetime, limit: int, claimant: str, lease_until: datetime
    ) -> list[OrderRow]:
        """Atomically claim up to ``limit`` orders of ``partner`` in state ``queued`` whose
        ``next_attempt_at`` is due (<= now, or unset) and that are unclaimed or whose claim
        expired (``claim_expires_at`` <= now). Oldest first (by ``created_at``, then by
        insertion). The returned rows carry the new claim."""

    @abstractmethod
    def claim_unrecorded_deliveries(
        self, partner: str, now: datetime, limit: int, claimant: str, lease_until: datetime
    ) -> list[OrderRow]:
        """Atomically claim, like ``claim_due_orders``, orders of ``partner`` whose file was
        staged but whose delivery was never journalled (no ``sent_at``) although the
        partner has answered them since (the state is past ``queued`` and is not
        ``send_failed``): a daemon died between publishing and journalling, and the
        answers overtook the restart. The outbox journals those deliveries."""

    @abstractmethod
    def release_claim(self, order_id: str, claimant: str) -> None:
        """Drop this claimant's claim on the order (after it was handled). Taking or
        dropping a claim is a write of the row: its version goes up."""

    @abstractmethod
    def renew_claims(
        self, order_ids: Sequence[str], claimant: str, lease_until: datetime,
        staged_at: datetime | None = None,
    ) -> dict[str, int]:
        """Extend ``claimant``'s claims on these orders to ``lease_until``; returns
        ``{order id: new version}`` of those it still held (a renewal is a write: the
        version goes up). An order missing from the answer was taken over or released.

        With ``staged_at``, the same write records that the orders' files are staged
        (complete temps on the partner's side) since then: only for the orders still
        held, in the statement that confirms the claim before the files are published."""

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

    @abstractmethod
    def overdue_order_ids(self, now: datetime) -> list[tuple[str, str, OrderState]]:
        """``(order id, partner, state)`` of the orders ``overdue_orders`` returns, in the
        same order, without reading their documents: what the deadline watch needs on
        every pass."""

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
    # An alert is an incident: at most one unresolved alert per (kind, partner). An
    # incident of orders (missed deadlines, failed sends, ...) lists the orders it
    # concerns; they join and leave it, and it resolves when the last one leaves.
    @abstractmethod
    def open_alert(
        self,
        kind: AlertKind,
        partner: str,
        order_ids: Sequence[str],
        message: str,
        now: datetime,
        error: str | None = None,
    ) -> AlertOpening:
        """Open the unresolved (kind, partner) alert, or bump the open one: its message
        becomes ``message`` (the newest word), its last error ``error`` if given, and
        ``order_ids`` join it. Without orders, ``count`` goes up by one (one more
        occurrence); with orders, by how many joined (an order already in it does not
        join twice). Says whether the alert was newly opened and which orders joined."""

    @abstractmethod
    def release_alert_orders(
        self, kinds: Collection[AlertKind], partner: str, order_ids: Sequence[str],
        now: datetime,
    ) -> list[AlertRelease]:
        """The orders were answered or resent: they leave the partner's unresolved
        alerts of these kinds; an alert left with no order is resolved. One entry per
        alert they left, oldest alert first."""

    @abstractmethod
    def resolve_alerts(self, kind: AlertKind, partner: str, now: datetime) -> list[Alert]:
        """Resolve the unresolved (kind, partner) alert (its orders leave it), and
        return it; an empty list when none is open."""

    @abstractmethod
    def acknowledge_alert(self, alert_id: int, by: str, now: datetime) -> Alert:
        """Mark acknowledged (stops escalation); raises ``KeyError`` if unknown. The first
        acknowledgement is kept: acknowledging again changes nothing."""

    @abstractmethod
    def get_alert(self, alert_id: int) -> Alert | None:
        """One alert with its orders, or None."""

    @abstractmethod
    def alerts(self, include_resolved: bool = False, *, partner: str | None = None,
               kind: AlertKind | None = None, last: int | None = None) -> list[Alert]:
        """Unresolved alerts (acknowledged ones too), newest first (by id); all with
        the flag; only a partner's or a kind's; the newest ``last``. Each carries its
        orders (``orders``, ``order_ids``, ``order_id``)."""

    @abstractmethod
    def alert_members(self, alert_id: int) -> list[AlertMember]:
        """Every stay of an order in the alert, oldest first (empty if unknown)."""

    @abstractmethod
    def orders_in_open_alerts(self, kinds: Collection[AlertKind]) -> set[tuple[AlertKind, str]]:
        """``(kind, order id)`` of every order now in an unresolved alert of these kinds."""

    @abstractmethod
    def queued_orders_outside(self, partners: Collection[str]) -> dict[str, list[str]]:
        """``{partner: [order ids]}`` of queued orders whose partner is not among
        ``partners`` (no longer configured), oldest first. Cheap: no documents read."""

    @abstractmethod
    def set_alert_level(self, alert_id: int, level: int, now: datetime) -> None:
        """Record that escalation ``level`` has been fully notified."""

    @abstractmethod
    def add_notification(self, record: NotificationRecord) -> NotificationRecord:
        """Journal one notification attempt, sent or failed."""

    @abstractmethod
    def notifications(self, alert_id: int | None = None) -> list[NotificationRecord]:
        """Notification attempts, oldest first (of one alert, or all)."""

    # -- shared work: several daemons on one journal ---------------------------------
    @abstractmethod
    def claim_inbound_files(
        self, partner: str, files: Sequence[tuple[str, int, float]], claimant: str,
        now: datetime, lease_until: datetime,
    ) -> set[tuple[str, int, float]]:
        """Claim inbound files, each as listed ``(path, size, mtime)``, before reading
        them. Returns those ``claimant`` holds now (free, expired, or already its own);
        the others are held by another daemon under an unexpired claim. The same name
        with another size or mtime is another file."""

    @abstractmethod
    def release_inbound_files(self, partner: str, claimant: str) -> None:
        """Drop every claim ``claimant`` holds on ``partner``'s files (at the end of a
        pass: they were moved, or are left for the next pass). A daemon that still
        lists such a file may claim it next, and finds it gone or already journalled."""

    @abstractmethod
    def claim_alert(
        self, alert_id: int, claimant: str, now: datetime, lease_until: datetime
    ) -> Alert | None:
        """Claim an unacknowledged, unresolved alert for one escalation pass (claiming
        again extends the lease). Returns the alert as committed now, or None when it
        is acknowledged, resolved, unknown, or held by another daemon."""

    @abstractmethod
    def release_alert(self, alert_id: int, claimant: str) -> None:
        """Drop ``claimant``'s claim on the alert."""

    @abstractmethod
    def record_heartbeat(self, daemon: DaemonRecord) -> None:
        """Insert or refresh the daemon's row (``last_seen``, served partners)."""

    @abstractmethod
    def remove_daemon(self, daemon_id: str) -> None:
        """Forget a daemon that stopped cleanly."""

    @abstractmethod
    def daemons(self) -> list[DaemonRecord]:
        """Every daemon's heartbeat row, most recently seen first."""

    @abstractmethod
    def claims_held(self, now: datetime) -> dict[str, tuple[int, int]]:
        """``{claimant: (orders, inbound files)}``: the unexpired claims each one holds."""

    # -- housekeeping -------------------------------------------------------------
    @abstractmethod
    def prune(self, before: datetime) -> int:
        """Delete exchange records and events older than ``before``, alerts resolved before
        it (with their notifications and order lists), and orders in a final state that
        finished before it (with their timelines), inbound claims expired and heartbeats
        last seen before it; return how many rows went. Open alerts and unfinished
        orders always stay."""

