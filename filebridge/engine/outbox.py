"""Outbound dispatch: queued orders become instruction files in the partner's orders_dir.

The upload is cut into journalled steps so that ``kill -9`` at any moment neither loses
an order nor delivers it twice:

1. claim due orders; render each file once (name, bytes, and a random token for its
   temp name) and commit that to the journal;
2. *stage*: write the complete file under ``<name>.<token>.part`` (every reader ignores
   ``.part`` files); commit ``staged_at``;
3. *publish*: rename the temp to the final name, never overwriting; commit ``sent``.

After a crash, a staged order is published again, and what is found tells what
happened: the temp is still there (not yet renamed: rename it now), or the final name
holds our bytes (renamed, the reply was lost), or neither is there (renamed, and the
partner already took the file). In each case the order is delivered exactly once.
Only failures of the order's own file use up attempts; an unreachable partner holds
its orders queued.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
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
        files: dict[str, list[OrderRow]] = {}
        for row in rows:
            files.setdefault(row.file_name or "", []).append(row)
        failures = self._stage(link, files)
        outcomes = self._publish(link, {name: group for name, group in files.items()
                                        if name not in failures})
        outcomes.update(failures)
        sent = 0
        unreachable: PartnerUnreachable | None = None
        with self.journal.transaction():
            for name, group in files.items():
                outcome = outcomes[name]
                for row in group:
                    if isinstance(outcome, PartnerUnreachable):
                        unreachable = outcome
                        self.journal.release_claim(row.order_id, self.claimant)
                    elif isinstance(outcome, str):
                        self._mark_sent(link, row, outcome)
                        sent += 1
                    else:
                        self._mark_failed(link, row, outcome)
        if unreachable is not None:
            raise unreachable
        return sent

    # -- steps -------------------------------------------------------------------
    def _render(self, link: PartnerLink, rows: list[OrderRow], now: datetime) -> list[OrderRow]:
        """Give every row its file (once: a retry reuses name, bytes and token)."""
        fresh = [row for row in rows if row.file_name is None or row.file_content is None]
        if not fresh:
            return rows
        rendered: dict[str, OrderRow] = {}
        if link.config.format == "csv" and link.config.csv_batch:
            batch = {"file_name": batch_file_name(now),
                     "file_content": link.codec.encode([row.order for row in fresh]),
                     "upload_token": secrets.token_hex(8), "staged_at": None}
            for row in fresh:
                rendered[row.order_id] = row.model_copy(update=batch)
        else:
            for row in fresh:
                rendered[row.order_id] = row.model_copy(update={
                    "file_name": order_file_name(row.order_id, row.order.sequence,
                                                 link.codec.extension),
                    "file_content": link.codec.encode([row.order]),
                    "upload_token": secrets.token_hex(8), "staged_at": None})
        for row in rendered.values():
            self.journal.save_order(row)
        return [rendered.get(row.order_id, row) for row in rows]

    def _stage(self, link: PartnerLink, files: dict[str, list[OrderRow]]
               ) -> dict[str, Exception]:
        """Write the temps of files not staged yet; journal which are. Returns failures."""
        todo = [(name, group[0]) for name, group in files.items() if group[0].staged_at is None]
        if not todo:
            return {}
        results = link.transport.stage_many(link.config.orders_dir, [
            (name, row.upload_token or "", row.file_content or b"") for name, row in todo])
        failures: dict[str, Exception] = {}
        now = self.clock.now()
        with self.journal.transaction():
            for (name, _), result in zip(todo, results, strict=True):
                if isinstance(result, Exception):
                    failures[name] = result
                    continue
                for index, row in enumerate(files[name]):
                    files[name][index] = row = row.model_copy(update={"staged_at": now})
                    self.journal.save_order(row)
        return failures

    def _publish(self, link: PartnerLink, files: dict[str, list[OrderRow]]
                 ) -> dict[str, str | Exception]:
        """Rename staged temps into place; work out what a lost reply or crash did."""
        items = [(name, group[0].upload_token or "") for name, group in files.items()]
        if not items:
            return {}
        results = link.transport.publish_many(link.config.orders_dir, items)
        outcomes: dict[str, str | Exception] = {}
        for (name, _), result in zip(items, results, strict=True):
            row = files[name][0]
            outcomes[name] = result if isinstance(result, str) else self._settle(
                link, name, row.upload_token or "", row.file_content or b"", result)
        return outcomes

    def _settle(self, link: PartnerLink, name: str, token: str, content: bytes,
                error: Exception) -> str | Exception:
        """A publish that failed may still mean delivered: our bytes under the final name,
        or (temp gone, final gone) renamed earlier and already taken by the partner."""
        if not isinstance(error, FileAlreadyExists | RemoteFileMissing):
            return error
        path = f"{link.config.orders_dir}/{name}"
        try:
            existing: bytes | None = link.transport.read(path, max(len(content), 1) * 2)
        except RemoteFileMissing:
            existing = None
        except TransportError as exc:
            return exc
        if existing == content:
            with contextlib.suppress(TransportError):
                link.transport.discard(link.config.orders_dir, name, token)
            return path
        if existing is None and isinstance(error, RemoteFileMissing):
            return path  # renamed before a crash, and the partner has already taken it
        if existing is None:
            return TransportError(f"{path} vanished while publishing; will retry")
        return FileAlreadyExists(
            f"{path} already exists with different content; filebridge never overwrites")

    def _record(self, link: PartnerLink, row: OrderRow, status: ExchangeStatus,
                attempt: int, error: str | None) -> ExchangeRecord:
        content = row.file_content or b""
        record = self.journal.add_exchange(ExchangeRecord(
            at=self.clock.now(), partner=link.name, direction=Direction.OUT,
            document=DocumentKind.ORDER, order_id=row.order_id, file_name=row.file_name or "",
            path=f"{link.config.orders_dir}/{row.file_name}", size=len(content),
            sha256=hashlib.sha256(content).hexdigest(), status=status, attempt=attempt,
            error=error, by=row.resend_by, reason=row.resend_reason,
            message_id=row.order.message_id,
        ))
        self.events.emit("exchange", record)
        return record

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
        if isinstance(error, FileAlreadyExists) and row.staged_at is not None:
            # Someone else's file holds the name: drop our temp, so that the next try
            # stages afresh and cannot mistake a vanished foreign file for our delivery.
            with contextlib.suppress(TransportError):
                link.transport.discard(link.config.orders_dir, row.file_name or "",
                                       row.upload_token or "")
            row = row.model_copy(update={"staged_at": None})
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

