"""What filebridge remembers: order states, exchange records, alerts, timelines.

These are the journal's rows as the engine, the API and the CLI see them. The JSON
keys of ``ExchangeRecord`` and ``Alert`` are part of the contract (``log --json``,
``alerts --json``), so their field names must not change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from filebridge.model.documents import Order


class OrderState(StrEnum):
    """Where an order is in its life; see the lifecycle in the docs."""

    QUEUED = "queued"
    SENT = "sent"
    PICKED_UP = "picked_up"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"
    SEND_FAILED = "send_failed"


FINAL_STATES = frozenset({OrderState.COMPLETED, OrderState.NOT_COMPLETED})


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


class DocumentKind(StrEnum):
    ORDER = "order"
    ACK = "ack"
    RESULT = "result"
    UNKNOWN = "unknown"


class ExchangeStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"
    IGNORED = "ignored"


EXCHANGE_JSON_KEYS = (
    "id", "at", "partner", "direction", "document", "order_id", "file_name", "path",
    "size", "sha256", "status", "attempt", "error", "by", "reason",
)


class ExchangeRecord(BaseModel):
    """One document moved in or out (a 20-row CSV file gives 20 records)."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    at: datetime
    partner: str
    direction: Direction
    document: DocumentKind
    order_id: str | None = None
    file_name: str
    path: str
    size: int | None = None
    sha256: str | None = None
    status: ExchangeStatus
    attempt: int | None = None
    error: str | None = None
    by: str | None = None
    reason: str | None = None
    message_id: str | None = None  # the document's own MessageId; used to spot duplicates

    def contract_json(self) -> dict[str, Any]:
        """Exactly the keys ``log --json`` promises."""
        data = self.model_dump(mode="json")
        return {key: data[key] for key in EXCHANGE_JSON_KEYS}


class AlertKind(StrEnum):
    SEND_FAILED = "send_failed"
    ACK_OVERDUE = "ack_overdue"
    RESULT_OVERDUE = "result_overdue"
    QUARANTINED_FILE = "quarantined_file"
    HOST_KEY_MISMATCH = "host_key_mismatch"
    PARTNER_UNREACHABLE = "partner_unreachable"
    PARTNER_NOT_CONFIGURED = "partner_not_configured"
    MOVE_FAILED = "move_failed"


ORDER_ALERT_KINDS = (
    AlertKind.SEND_FAILED, AlertKind.ACK_OVERDUE, AlertKind.RESULT_OVERDUE,
    AlertKind.PARTNER_NOT_CONFIGURED,
)
"""Kinds whose incident gathers orders: it resolves when its last order leaves it."""

ORDER_IDS_LISTED = 100
"""The most order ids an alert carries (``order_ids``); ``orders`` counts them all."""

ALERT_JSON_KEYS = (
    "id", "kind", "partner", "order_id", "orders", "order_ids", "opened_at", "level",
    "count", "message", "acknowledged_by", "acknowledged_at", "resolved_at",
)


class Alert(BaseModel):
    """Something a person must look at: an incident. One open alert per (kind, partner);
    an incident of a kind in ``ORDER_ALERT_KINDS`` gathers the orders it concerns, and
    they join and leave it as they fall due and are answered or resent.

    ``orders`` is how many orders it concerns now (for a resolved alert: how many it
    concerned in all), ``order_ids`` the first ``ORDER_IDS_LISTED`` of them, oldest
    member first, and ``order_id`` the one order when there is exactly one."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: AlertKind
    partner: str
    order_id: str | None = None
    orders: int = 0
    order_ids: tuple[str, ...] = ()
    opened_at: datetime
    level: int = 0  # the highest escalation level notified so far; 0 = none yet
    count: int = 1  # occurrences while open: failures seen, or orders that joined
    message: str
    last_error: str | None = None
    updated_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    def contract_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["order_ids"] = list(self.order_ids)
        return {key: data[key] for key in ALERT_JSON_KEYS}


class AlertMember(BaseModel):
    """An order's stay in an incident: when it joined, and when it left (answered,
    resent, or the incident resolved)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    added_at: datetime
    left_at: datetime | None = None


class AlertOpening(BaseModel):
    """What opening (or adding to) an incident did: the incident as it is now, whether
    it was newly opened, and which of the given orders joined it (the others were in it
    already)."""

    model_config = ConfigDict(frozen=True)

    alert: Alert
    created: bool
    joined: tuple[str, ...] = ()


class AlertRelease(BaseModel):
    """Orders that left one incident, and the incident itself if that resolved it."""

    model_config = ConfigDict(frozen=True)

    alert_id: int
    kind: AlertKind
    left: tuple[str, ...]
    resolved: Alert | None = None


class NotificationStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"


class NotificationRecord(BaseModel):
    """One attempt to tell a person about an alert at one escalation level."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    alert_id: int
    level: int
    target: str
    at: datetime
    status: NotificationStatus
    error: str | None = None


class TimelineEntry(BaseModel):
    """One line of an order's history: a state change, an exchange, an alert, a notification."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    event: str  # e.g. "submitted", "state", "exchange", "alert", "notification", "resend"
    detail: str
    state: OrderState | None = None
    exchange_id: int | None = None
    alert_id: int | None = None


class OrderRow(BaseModel):
    """The journal's view of one order: the document as last sent plus its progress."""

    order_id: str
    partner: str
    state: OrderState
    order: Order  # the current instruction (sequence and message_id of the latest send)
    created_at: datetime
    updated_at: datetime
    attempts: int = 0  # failed attempts of the current send
    next_attempt_at: datetime | None = None
    # the file of the current send, rendered once and persisted before the first upload
    # attempt, so that a retry after a crash sends the same name and the same bytes
    file_name: str | None = None
    file_content: bytes | None = None
    file_path: str | None = None
    # the upload in two journalled steps (see engine.outbox): the temp name's token,
    # and when the complete temp file was on the partner's side
    upload_token: str | None = None
    staged_at: datetime | None = None
    sent_at: datetime | None = None
    picked_up_at: datetime | None = None
    acknowledged_at: datetime | None = None
    finished_at: datetime | None = None
    ack_due_at: datetime | None = None
    result_due_at: datetime | None = None
    ack_message_id: str | None = None
    result_message_id: str | None = None
    last_error: str | None = None
    resend_by: str | None = None
    resend_reason: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    # bumped by every write of the row; a save names the version it read, so a change
    # made meanwhile by another daemon is never silently overwritten (ConcurrentUpdate)
    version: int = 0


def changed_fields(before: OrderRow, after: OrderRow) -> list[str]:
    """The fields ``after`` changed relative to ``before`` (the version aside): what a
    partial ``save_order`` has to write."""
    names = []
    for name in OrderRow.model_fields:
        if name == "version":
            continue
        old, new = getattr(before, name), getattr(after, name)
        if old is not new and old != new:
            names.append(name)
    return names


class OrderView(BaseModel):
    """What ``bridge.get(order_id)`` returns: the order, its state and its whole timeline."""

    order_id: str
    partner: str
    state: OrderState
    order: Order
    timeline: list[TimelineEntry] = Field(default_factory=list)

    def contract_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "partner": self.partner,
            "state": self.state.value,
            "order": self.order.model_dump(mode="json"),
            "timeline": [entry.model_dump(mode="json") for entry in self.timeline],
        }


class Receipt(BaseModel):
    """The answer to ``submit``: the order is durable; ``created`` is False for a repeat."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    partner: str
    state: OrderState
    created: bool
