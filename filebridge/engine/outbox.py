"""Outbound dispatch: queued orders become instruction files in the partner's orders_dir.

The order of operations is what makes ``kill -9`` harmless:
1. claim due orders and persist the rendered file (name and bytes) on each row;
2. upload with temp-name-then-rename, never overwriting;
3. record the outcome (sent, or a failed attempt with its backoff) in one transaction.
A crash after 2 but before 3 is healed by the next attempt: the final name exists with
the same bytes, which counts as delivered. Only failures of the order's own file use up
attempts; an unreachable partner holds its orders queued.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from filebridge.clock import Clock
from filebridge.engine.alerts import AlertDesk
from filebridge.engine.backoff import compute_backoff
from filebridge.engine.events import EventHub, OrderEvent
from filebridge.engine.link import PartnerLink
from filebridge.errors import (
    FileAlreadyExists,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.journal.base import Journal
from filebridge.model import (
    AlertKind,
    Direction,
    DocumentKind,
    ExchangeRecord,
    ExchangeStatus,
    OrderRow,
    OrderState,
    TimelineEntry,
)

log = logging.getLogger("filebridge.outbox")


@dataclass
class _Outcome:
    path: str | None = None
    error: Exception | None = None


def order_file_name(order_id: str, sequence: int, extension: str) -> str:
    """``ORDER_<OrderId>_<Sequence>.<xml|csv>`` (the contract's file name)."""
    return f"ORDER_{order_id}_{sequence}.{extension}"


def batch_file_name(now: datetime) -> str:
    """``ORDERS_<batch id>.csv``: time-ordered and unique."""
    return f"ORDERS_{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}.csv"


class Outbox:
    """Claims due orders of one partner, uploads them, and journals every attempt."""

    def __init__(
        self,
        journal: Journal,
        alerts: AlertDesk,
        events: EventHub,
        clock: Clock,
        claimant: str,
        lease: timedelta,
        batch_limit: int = 500,
    ) -> None:
        self.journal = journal
        self.alerts = alerts
        self.events = events
        self.clock = clock
        self.claimant = claimant
        self.lease = lease
        self.batch_limit = batch_limit

    def dispatch(self, link: PartnerLink) -> int:
        """Send what is due for ``link``; return how many orders were sent.

        Raises ``PartnerUnreachable`` (after releasing its claims) so the caller can
        track the partner's health in one place.
        """
        now = self.clock.now()
        rows = self.journal.claim_due_orders(
            link.name, now, self.batch_limit, self.claimant, now + self.lease
        )
        if not rows:
            return 0
        with self.journal.transaction():
            rows = self._render(link, rows, now)
        files = {row.file_name: row.file_content for row in rows}
        outcomes = self._upload(link, files)  # type: ignore[arg-type]
        sent = 0
        unreachable: PartnerUnreachable | None = None
        with self.journal.transaction():
            for row in rows:
                outcome = outcomes[row.file_name or ""]
                if isinstance(outcome.error, PartnerUnreachable):
                    unreachable = outcome.error
                    self.journal.release_claim(row.order_id, self.claimant)
                elif outcome.path is not None:
                    self._mark_sent(link, row, outcome.path)
                    sent += 1
                else:
                    self._mark_failed(link, row, outcome.error)
        if unreachable is not None:
            raise unreachable
        return sent

    # -- steps -------------------------------------------------------------------
    def _render(self, link: PartnerLink, rows: list[OrderRow], now: datetime) -> list[OrderRow]:
        """Give every row its file (once: a retry reuses name and bytes) and persist it."""
        fresh = [row for row in rows if row.file_name is None or row.file_content is None]
        if not fresh:
            return rows
        rendered: dict[str, OrderRow] = {}
        if link.config.format == "csv" and link.config.csv_batch:
            name = batch_file_name(now)
            content = link.codec.encode([row.order for row in fresh])
            for row in fresh:
                rendered[row.order_id] = row.model_copy(
                    update={"file_name": name, "file_content": content}
                )
        else:
            for row in fresh:
                name = order_file_name(row.order_id, row.order.sequence, link.codec.extension)
                content = link.codec.encode([row.order])
                rendered[row.order_id] = row.model_copy(
                    update={"file_name": name, "file_content": content}
                )
        for row in rendered.values():
            self.journal.save_order(row)
        return [rendered.get(row.order_id, row) for row in rows]

    def _upload(self, link: PartnerLink, files: dict[str, bytes]) -> dict[str, _Outcome]:
        folder = link.config.orders_dir
        outcomes: dict[str, _Outcome] = {}
        put_many = getattr(link.transport, "put_many", None)
        if put_many is not None and len(files) > 1:
            items = list(files.items())
            for (name, content), result in zip(items, put_many(folder, items), strict=True):
                outcomes[name] = self._settle(link, name, content, result)
            return outcomes
        for name, content in files.items():
            try:
                result: str | Exception = link.transport.put_atomic(folder, name, content)
            except TransportError as exc:
                result = exc
            outcomes[name] = self._settle(link, name, content, result)
            if isinstance(outcomes[name].error, PartnerUnreachable):
                for rest in files:
                    outcomes.setdefault(rest, _Outcome(error=outcomes[name].error))
                break
        return outcomes

    def _settle(
        self, link: PartnerLink, name: str, content: bytes, result: str | Exception
    ) -> _Outcome:
        """Turn an upload result into an outcome; an existing file with our bytes is ours."""
        if isinstance(result, str):
            return _Outcome(path=result)
        if not isinstance(result, FileAlreadyExists):
            return _Outcome(error=result)
        path = f"{link.config.orders_dir}/{name}"
        try:
            existing = link.transport.read(path, max(len(content), 1) * 2)
        except RemoteFileMissing:
            # It was there a moment ago and is gone now: our earlier attempt landed and the
            # partner picked it up.
            return _Outcome(path=path)
        except TransportError as exc:
            return _Outcome(error=exc)
        if existing == content:
            return _Outcome(path=path)
        return _Outcome(error=FileAlreadyExists(
            f"{path} already exists with different content; filebridge never overwrites"))

    def _record(self, link: PartnerLink, row: OrderRow, status: ExchangeStatus,
                attempt: int, error: str | None) -> ExchangeRecord:
        content = row.file_content or b""
        return self.journal.add_exchange(ExchangeRecord(
            at=self.clock.now(), partner=link.name, direction=Direction.OUT,
            document=DocumentKind.ORDER, order_id=row.order_id, file_name=row.file_name or "",
            path=f"{link.config.orders_dir}/{row.file_name}", size=len(content),
            sha256=hashlib.sha256(content).hexdigest(), status=status, attempt=attempt,
            error=error, by=row.resend_by, reason=row.resend_reason,
            message_id=row.order.message_id,
        ))

    def _mark_sent(self, link: PartnerLink, row: OrderRow, path: str) -> None:
        now = self.clock.now()
        attempt = row.attempts + 1
        record = self._record(link, row, ExchangeStatus.OK, attempt, None)
        self.journal.save_order(row.model_copy(update={
            "state": OrderState.SENT, "sent_at": now, "updated_at": now, "file_path": path,
            "ack_due_at": now + link.config.ack_timeout, "last_error": None,
            "claimed_by": None, "claim_expires_at": None,
        }))
        self.journal.add_event(row.order_id, TimelineEntry(
            at=now, event="exchange", state=OrderState.SENT, exchange_id=record.id,
            detail=f"sent {row.file_name} (attempt {attempt})"))
        self.alerts.resolve(AlertKind.SEND_FAILED, link.name, row.order_id)
        log.info("sent %s", row.file_name,
                 extra={"partner": link.name, "order_id": row.order_id, "event": "sent"})
        self.events.emit("sent", OrderEvent("sent", row.order_id, link.name, OrderState.SENT))

    def _mark_failed(self, link: PartnerLink, row: OrderRow, error: Exception | None) -> None:
        now = self.clock.now()
        attempt = row.attempts + 1
        text = str(error) if error else "unknown error"
        record = self._record(link, row, ExchangeStatus.FAILED, attempt, text)
        policy = link.config
        exhausted = attempt >= policy.max_attempts
        update: dict[str, object] = {
            "attempts": attempt, "updated_at": now, "last_error": text,
            "claimed_by": None, "claim_expires_at": None,
        }
        if exhausted:
            update.update(state=OrderState.SEND_FAILED, next_attempt_at=None)
        else:
            delay = compute_backoff(attempt, policy.backoff_initial, policy.backoff_max)
            update["next_attempt_at"] = now + delay
        self.journal.save_order(row.model_copy(update=update))
        detail = f"attempt {attempt} of {policy.max_attempts} failed: {text}"
        self.journal.add_event(row.order_id, TimelineEntry(
            at=now, event="exchange", exchange_id=record.id, detail=detail,
            state=OrderState.SEND_FAILED if exhausted else None))
        log.warning("sending %s failed: %s", row.file_name, detail,
                    extra={"partner": link.name, "order_id": row.order_id, "event": "send_failed"})
        if exhausted:
            self.alerts.open(
                AlertKind.SEND_FAILED, link.name, row.order_id,
                f"{row.file_name} could not be delivered to {link.name} after "
                f"{attempt} attempts", error=text)
            self.events.emit("send_failed", OrderEvent(
                "send_failed", row.order_id, link.name, OrderState.SEND_FAILED))


def sent_files_gone(rows: Iterable[OrderRow], present: set[str]) -> list[OrderRow]:
    """The sent orders whose instruction file is no longer in orders_dir (picked up)."""
    return [row for row in rows if row.file_name and row.file_name not in present]
