"""Deadlines: an order sent but not acknowledged within ``ack_timeout``, or acknowledged
but without a result within ``result_timeout``, opens an alert. The order's state does
not change: the partner may still answer, and the alert resolves itself when it does."""

from __future__ import annotations

from datetime import datetime

from filebridge.engine.alerts import AlertDesk
from filebridge.journal.base import Journal
from filebridge.model import AlertKind, OrderState


class DeadlineWatch:
    """Opens ``ack_overdue`` / ``result_overdue`` alerts once per order and deadline."""

    def __init__(self, journal: Journal, alerts: AlertDesk) -> None:
        self.journal = journal
        self.alerts = alerts

    def check(self, now: datetime, partners: set[str] | None = None) -> int:
        """Open alerts for newly overdue orders; return how many were opened."""
        overdue = self.journal.overdue_orders(now)
        if not overdue:
            return 0
        already = {(a.kind, a.order_id) for a in self.journal.alerts()}
        opened = 0
        for row in overdue:
            if partners is not None and row.partner not in partners:
                continue
            if row.state in (OrderState.SENT, OrderState.PICKED_UP):
                kind, due = AlertKind.ACK_OVERDUE, row.ack_due_at
                what = (f"no acknowledgement from {row.partner} for {row.file_name} "
                        f"(sent {_fmt(row.sent_at)}, due {_fmt(due)})")
            else:
                kind, due = AlertKind.RESULT_OVERDUE, row.result_due_at
                what = (f"no result from {row.partner} for order {row.order_id} "
                        f"(acknowledged {_fmt(row.acknowledged_at)}, due {_fmt(due)})")
            if (kind, row.order_id) in already:
                continue
            self.alerts.open(kind, row.partner, row.order_id, what)
            opened += 1
        return opened


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"
