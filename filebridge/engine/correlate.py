"""Applying a partner's acknowledgement or result to its order.

Rules (the lifecycle contract): an accepted ack moves a sent or picked-up order to
``acknowledged``, a rejected one to ``rejected``; a later ack with a new MessageId
wins until a result has arrived; a result ends the order ``completed`` or
``not_completed`` whatever came before, and an ack arriving after the result is
recorded without changing the state. What the partner says wins over what we
believed: an ack for an order we had marked ``send_failed`` (its upload's reply was
lost) is applied too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from filebridge.config import PartnerConfig
from filebridge.model import (
    FINAL_STATES,
    Acknowledgement,
    AckStatus,
    AlertKind,
    Document,
    OrderResult,
    OrderRow,
    OrderState,
    Outcome,
)


@dataclass(frozen=True)
class Change:
    """What applying one document does: the new row, a timeline line, the event to emit,
    and which alerts it resolves."""

    row: OrderRow
    detail: str
    event: str | None
    resolves: tuple[AlertKind, ...]


def apply_document(
    row: OrderRow, document: Document, partner: PartnerConfig, now: datetime
) -> Change:
    """The order after ``document`` (an Acknowledgement or OrderResult) arrived."""
    if isinstance(document, Acknowledgement):
        return _apply_ack(row, document, partner, now)
    if isinstance(document, OrderResult):
        return _apply_result(row, document, now)
    raise TypeError(f"cannot apply {type(document).__name__} to an order")


def _apply_ack(
    row: OrderRow, ack: Acknowledgement, partner: PartnerConfig, now: datetime
) -> Change:
    ref = "" if ack.ref_message_id == row.order.message_id else (
        f" (refers to earlier message {ack.ref_message_id})")
    reason = f": {ack.reason_code or ''} {ack.reason_text or ''}".rstrip() if (
        ack.reason_code or ack.reason_text) else ""
    detail = f"ack {ack.status.value}{reason}{ref}"
    if row.state in FINAL_STATES:
        return Change(row.model_copy(update={"updated_at": now}),
                      f"{detail}; recorded after the result, state unchanged", None, ())
    picked = row.picked_up_at or now
    if ack.status is AckStatus.ACCEPTED:
        new = row.model_copy(update={
            "state": OrderState.ACKNOWLEDGED, "acknowledged_at": now, "updated_at": now,
            "ack_message_id": ack.message_id, "picked_up_at": picked,
            "result_due_at": now + partner.result_timeout, "next_attempt_at": None,
        })
        return Change(new, detail, "acknowledged",
                      (AlertKind.ACK_OVERDUE, AlertKind.SEND_FAILED))
    new = row.model_copy(update={
        "state": OrderState.REJECTED, "acknowledged_at": now, "updated_at": now,
        "ack_message_id": ack.message_id, "picked_up_at": picked, "result_due_at": None,
        "next_attempt_at": None,
    })
    return Change(new, detail, "rejected", (AlertKind.ACK_OVERDUE, AlertKind.SEND_FAILED,
                                            AlertKind.RESULT_OVERDUE))


def _apply_result(row: OrderRow, result: OrderResult, now: datetime) -> Change:
    completed = result.outcome is Outcome.COMPLETED
    state = OrderState.COMPLETED if completed else OrderState.NOT_COMPLETED
    detail = f"result {result.outcome.value}"
    if result.deviation_code or result.deviation_text:
        detail += f": {result.deviation_code or ''} {result.deviation_text or ''}".rstrip()
    if result.weighings:
        detail += " (" + ", ".join(f"{w.fraction_code} {w.kg} kg" for w in result.weighings) + ")"
    new = row.model_copy(update={
        "state": state, "finished_at": now, "updated_at": now, "next_attempt_at": None,
        "result_message_id": result.message_id, "picked_up_at": row.picked_up_at or now,
        "result_due_at": None,
    })
    return Change(new, detail, state.value,
                  (AlertKind.ACK_OVERDUE, AlertKind.RESULT_OVERDUE, AlertKind.SEND_FAILED))
