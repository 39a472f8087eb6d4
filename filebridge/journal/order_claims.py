"""Claims on orders: which daemon dispatches which order, as leases on the rows.

A claim marks rows with the claimant and a lease end in one statement that the
dialect writes (SQLite: one ``UPDATE ... WHERE seq IN (SELECT ...)`` inside ``BEGIN
IMMEDIATE``; PostgreSQL: ``FOR UPDATE SKIP LOCKED``), so two daemons never take the same
order. Taking, renewing or dropping a claim is a write of the row: its version goes
up, which fences off saves made from an older read.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from filebridge.journal.store import SqlStore
from filebridge.model import OrderRow, OrderState

# Which orders a claim may take; both dialects' claim statements embed it, with the
# parameters (partner, 'queued', now, now). A queued order without a next_attempt_at
# has never been scheduled to wait, so it is due at once.
CLAIMABLE = """
    partner = ? AND state = ?
    AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
    AND (claimed_by IS NULL OR claim_expires_at IS NULL OR claim_expires_at <= ?)
"""

# Staged files the partner has already answered, whose own delivery was never
# journalled (the daemon died between the rename and its "sent"; the answers came in
# before anyone could claim the order again, so it is no longer queued). Parameters:
# (partner, now).
UNRECORDED = f"""
    partner = ? AND staged_at IS NOT NULL AND sent_at IS NULL
    AND state NOT IN ('{OrderState.QUEUED.value}', '{OrderState.SEND_FAILED.value}')
    AND (claimed_by IS NULL OR claim_expires_at IS NULL OR claim_expires_at <= ?)
"""


def marks(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an IN list of ``values``."""
    return ", ".join("?" for _ in values)


class OrderClaimsSql(SqlStore):
    """Claiming, renewing and releasing orders, in portable SQL plus one dialect hook."""

    @abstractmethod
    def _claim_statement(
        self, where: str, params: Sequence[Any], limit: int, claimant: str, lease_until: Any
    ) -> tuple[str, Sequence[Any]]:
        """The dialect's atomic claim: marks and returns up to ``limit`` orders that match
        ``where`` (with its ``params``), oldest first.

        ``lease_until`` (and any instant in ``params``) is already encoded for the dialect.
        """

    def claim_due_orders(
        self, partner: str, now: datetime, limit: int, claimant: str, lease_until: datetime
    ) -> list[OrderRow]:
        if limit <= 0:
            return []
        at = self.codec.encode_time(now)
        return self._claim(CLAIMABLE, (partner, OrderState.QUEUED.value, at, at), limit,
                           claimant, lease_until)

    def claim_unrecorded_deliveries(
        self, partner: str, now: datetime, limit: int, claimant: str, lease_until: datetime
    ) -> list[OrderRow]:
        if limit <= 0:
            return []
        return self._claim(UNRECORDED, (partner, self.codec.encode_time(now)), limit,
                           claimant, lease_until)

    def _claim(self, where: str, params: Sequence[Any], limit: int, claimant: str,
               lease_until: datetime) -> list[OrderRow]:
        sql, bound = self._claim_statement(where, params, limit, claimant,
                                           self.codec.encode_time(lease_until))
        with self.transaction():
            rows = self._query(sql, bound)
        # RETURNING promises no order: put them back in the order the claim chose them
        rows.sort(key=lambda row: (self.codec.decode_time(row["created_at"]), int(row["seq"])))
        return [self.codec.order_row(row) for row in rows]

    def release_claim(self, order_id: str, claimant: str) -> None:
        with self.transaction():
            self._command(
                "UPDATE orders SET claimed_by = NULL, claim_expires_at = NULL, "
                "version = version + 1 WHERE order_id = ? AND claimed_by = ?",
                (order_id, claimant),
            )

    def renew_claims(
        self, order_ids: Sequence[str], claimant: str, lease_until: datetime,
        staged_at: datetime | None = None,
    ) -> dict[str, int]:
        if not order_ids:
            return {}
        renewed: dict[str, int] = {}
        setting, values = "claim_expires_at = ?", [self.codec.encode_time(lease_until)]
        if staged_at is not None:
            setting += ", staged_at = ?"
            values.append(self.codec.encode_time(staged_at))
        with self.transaction():
            for start in range(0, len(order_ids), 500):
                chunk = list(order_ids[start:start + 500])
                rows = self._query(
                    f"UPDATE orders SET {setting}, version = version + 1 "
                    f"WHERE claimed_by = ? AND order_id IN ({marks(chunk)}) "
                    "RETURNING order_id, version",
                    (*values, claimant, *chunk))
                renewed.update((row["order_id"], int(row["version"])) for row in rows)
        return renewed
