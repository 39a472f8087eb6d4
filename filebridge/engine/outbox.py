"""Outbound dispatch: queued orders become instruction files in the partner's orders_dir.

The upload is cut into journalled steps so that ``kill -9`` at any moment neither loses
an order nor delivers it twice:

1. claim due orders; render each file once (name, bytes, and a random token for its
   temp name) and commit that to the journal;
2. *stage*: write the complete file under ``<name>.<token>.part`` (every reader ignores
   ``.part`` files); commit ``staged_at``, in the same write that renews the claim for
   publishing;
3. *publish*: rename the temp to the final name, never overwriting; commit ``sent``.

After a crash, a staged order is published again, and what is found tells what
happened: the temp is still there (not yet renamed: rename it now), or the final name
holds our bytes (renamed, the reply was lost), or neither is there (renamed, and the
partner already took the file). In each case the order is delivered exactly once.
Only failures of the order's own file use up attempts; an unreachable partner holds
its orders queued.

Several daemons: a claim is a lease on the row. Every save names the row version it
read, and the claims are renewed right before publishing and again before journalling
the outcome, so a file is published, and its delivery journalled, only by the daemon
whose lease was just confirmed. A daemon that finds its claim taken over (it stalled
past its lease) leaves the order to the new holder, which settles it the way a restart
after a crash does: same name, same bytes, one file. One that finds the row changed by
someone else while it still holds the claim (the partner's ack, ingested by another
daemon, overtook our own "sent") applies its change to the row as it is now.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from filebridge.clock import Clock
from filebridge.engine.alerts import AlertDesk, incident_message
from filebridge.engine.backoff import compute_backoff
from filebridge.engine.events import EventHub, OrderEvent
from filebridge.engine.instructions import batch_file_name, with_rendered_file
from filebridge.engine.link import PartnerLink
from filebridge.errors import (
    ConcurrentUpdate,
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

SAVE_TRIES = 5  # re-reads after a concurrent write before giving up for this tick


class _ClaimLost(Exception):
    """Another daemon holds the order now (ours expired): leave the file to it."""


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
        self._journal_overtaken(link)
        now = self.clock.now()
        rows = self.journal.claim_due_orders(
            link.name, now, self.batch_limit, self.claimant, now + self.lease
        )
        if not rows:
            return 0
        try:
            with self.journal.transaction():
                rows = self._render(link, rows, now)
        except ConcurrentUpdate:
            # the rows changed under the claim (a resend, a takeover): render afresh
            # on a later tick rather than send a batch that holds someone else's order
            for row in rows:
                self.journal.release_claim(row.order_id, self.claimant)
            return 0
        files: dict[str, list[OrderRow]] = {}
        for row in rows:
            files.setdefault(row.file_name or "", []).append(row)
        failures, staged = self._stage(link, files)
        # journal what is staged, and publish inside a fresh lease: one write of each row
        held = self._renew({name: group for name, group in files.items() if name in staged},
                           staged_at=self.clock.now())
        held |= self._renew({name: group for name, group in files.items()
                             if name not in staged and name not in failures})
        for name, group in files.items():
            if name not in failures and any(row.order_id not in held for row in group):
                failures[name] = _ClaimLost(name)
        outcomes = self._publish(link, {name: group for name, group in files.items()
                                        if name not in failures})
        outcomes.update(failures)
        held = self._renew(files)  # and journal the outcomes inside one
        sent = 0
        unreachable: PartnerUnreachable | None = None
        with self.journal.transaction():
            for name, group in files.items():
                outcome = outcomes[name]
                for row in group:
                    if row.order_id not in held:
                        if isinstance(outcome, str):
                            self._record_superseded(link, row)
                        continue
                    if isinstance(outcome, PartnerUnreachable | _ClaimLost):
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

    def _journal_overtaken(self, link: PartnerLink) -> None:
        """Journal deliveries that a crash kept from being journalled and that the
        partner's answers overtook: the order left ``queued`` before anyone could claim
        it again, so the normal path never sees it. The answers prove the file arrived."""
        now = self.clock.now()
        rows = self.journal.claim_unrecorded_deliveries(
            link.name, now, self.batch_limit, self.claimant, now + self.lease)
        if not rows:
            return
        with self.journal.transaction():
            for row in rows:
                self._mark_sent(link, row, f"{link.config.orders_dir}/{row.file_name}",
                                note="journalled after a restart; the partner's answer "
                                     "confirms it arrived")

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
                rendered[row.order_id] = with_rendered_file(row, link.codec)
        for row in rendered.values():
            self.journal.save_order(row)  # ConcurrentUpdate: the caller gives all back
        return [rendered.get(row.order_id, row) for row in rows]

    def _stage(self, link: PartnerLink, files: dict[str, list[OrderRow]]
               ) -> tuple[dict[str, Exception], set[str]]:
        """Write the temps of files not staged yet. Returns the failures, and the files
        staged now (the caller journals those before publishing them)."""
        todo = [(name, group[0]) for name, group in files.items() if group[0].staged_at is None]
        if not todo:
            return {}, set()
        results = link.transport.stage_many(link.config.orders_dir, [
            (name, row.upload_token or "", row.file_content or b"") for name, row in todo])
        failures: dict[str, Exception] = {}
        staged: set[str] = set()
        for (name, _), result in zip(todo, results, strict=True):
            if isinstance(result, Exception):
                failures[name] = result
            else:
                staged.add(name)
        return failures, staged

    def _renew(self, files: dict[str, list[OrderRow]], staged_at: datetime | None = None
               ) -> set[str]:
        """Renew the claims on every row (and with ``staged_at``, journal their files as
        staged); the ids still held (a row's version is brought up to date if nobody
        else wrote it meanwhile). A row taken over by another daemon is no longer ours
        to publish or to journal: the daemon holding it now settles it."""
        rows = [row for group in files.values() for row in group]
        if not rows:
            return set()
        renewed = self.journal.renew_claims(
            [row.order_id for row in rows], self.claimant, self.clock.now() + self.lease,
            staged_at=staged_at)
        for row in rows:
            if row.order_id in renewed:
                if staged_at is not None:
                    row.staged_at = staged_at
                # +1 is our renewal alone: the row is as we have it. More means another
                # process wrote it too (an ack ingested elsewhere): keep the old version,
                # so the next save fails, reads the row again and keeps that change.
                if renewed[row.order_id] == row.version + 1:
                    row.version = renewed[row.order_id]
            else:
                log.warning("order %s was taken over or reset meanwhile; leaving it",
                            row.order_id, extra={"order_id": row.order_id,
                                                 "event": "claim_lost"})
        return set(renewed)

    def _record_superseded(self, link: PartnerLink, row: OrderRow) -> None:
        """Our file went out but the claim is gone. If the order still names that file,
        whoever holds it now settles the same file and journals it; if it names another
        (an operator's resend reset it meanwhile), nobody else will: journal the delivery
        here, and leave the row to the resend."""
        current = self.journal.get_order(row.order_id)
        if current is not None and (current.file_name, current.upload_token) == (
                row.file_name, row.upload_token):
            return
        attempt = row.attempts + 1
        record = self._record(link, row, ExchangeStatus.OK, attempt, None)
        self.journal.add_event(row.order_id, TimelineEntry(
            at=self.clock.now(), event="exchange", exchange_id=record.id,
            detail=f"sent {row.file_name} (attempt {attempt}) as the order was reset"))

    def _save_held(self, row: OrderRow, change: Callable[[OrderRow], dict[str, object]]
                   ) -> OrderRow | None:
        """Save ``change(row)`` over the row. When another process wrote the row since
        it was read, read it again and apply the change to what is there now, as long
        as this daemon still holds the claim. None: the claim is lost, nothing written."""
        for _ in range(SAVE_TRIES):
            fields = change(row)
            updated = row.model_copy(update=fields)
            try:
                self.journal.save_order(updated, fields=fields.keys())
                return updated
            except ConcurrentUpdate:
                fresh = self.journal.get_order(row.order_id)
                if fresh is None or fresh.claimed_by != self.claimant:
                    log.warning("order %s was taken over by %s; leaving it to them",
                                row.order_id, fresh.claimed_by if fresh else "nobody",
                                extra={"order_id": row.order_id, "event": "claim_lost"})
                    return None
                row = fresh
        raise ConcurrentUpdate(row.order_id, row.version)

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

    def _mark_sent(self, link: PartnerLink, row: OrderRow, path: str,
                   note: str | None = None) -> None:
        now = self.clock.now()
        attempt = row.attempts + 1

        def sent(current: OrderRow) -> dict[str, object]:
            update: dict[str, object] = {
                "sent_at": now, "updated_at": now, "file_path": path, "last_error": None,
                "claimed_by": None, "claim_expires_at": None}
            if current.state is OrderState.QUEUED:  # else an answer already overtook it
                update.update(state=OrderState.SENT,
                              ack_due_at=now + link.config.ack_timeout)
            return update

        # The row first: if another daemon took the order over while this one published
        # (our lease ran out), it settles the same file and journals it; recording here
        # too would count one delivery twice.
        saved = self._save_held(row, sent)
        if saved is None:
            self._record_superseded(link, row)
            return
        record = self._record(link, row, ExchangeStatus.OK, attempt, None)
        state = saved.state
        self.journal.add_event(row.order_id, TimelineEntry(
            at=now, event="exchange", exchange_id=record.id,
            state=OrderState.SENT if state is OrderState.SENT else None,
            detail=f"sent {row.file_name} (attempt {attempt})" + (f"; {note}" if note else "")))
        if state is OrderState.SENT and (row.attempts or row.resend_by is not None):
            # only an order that failed before, or was resent after failing, can have one
            self.alerts.resolve(AlertKind.SEND_FAILED, link.name, row.order_id)
        log.info("sent %s", row.file_name,
                 extra={"partner": link.name, "order_id": row.order_id, "event": "sent",
                        "file": row.file_name})
        self.events.emit("sent", OrderEvent("sent", row.order_id, link.name, state))

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
            "claimed_by": None, "claim_expires_at": None, "staged_at": row.staged_at,
        }
        if exhausted:
            update.update(state=OrderState.SEND_FAILED, next_attempt_at=None)
        else:
            delay = compute_backoff(attempt, policy.backoff_initial, policy.backoff_max)
            update["next_attempt_at"] = now + delay
        released: dict[str, object] = {"claimed_by": None, "claim_expires_at": None}
        saved = self._save_held(row, lambda current: update if (
            current.state is OrderState.QUEUED) else released)
        exhausted = exhausted and saved is not None and saved.state is OrderState.SEND_FAILED
        detail = f"attempt {attempt} of {policy.max_attempts} failed: {text}"
        self.journal.add_event(row.order_id, TimelineEntry(
            at=now, event="exchange", exchange_id=record.id, detail=detail,
            state=OrderState.SEND_FAILED if exhausted else None))
        log.warning("sending %s failed: %s", row.file_name, detail,
                    extra={"partner": link.name, "order_id": row.order_id, "event": "send_failed"})
        if exhausted:
            self.alerts.open(
                AlertKind.SEND_FAILED, link.name, row.order_id,
                incident_message(AlertKind.SEND_FAILED, link.name),
                error=f"{row.file_name}: {text}")
            self.events.emit("send_failed", OrderEvent(
                "send_failed", row.order_id, link.name, OrderState.SEND_FAILED))

