"""Inbound ingest: partner files in acks_dir and results_dir become state changes.

Partner files are untrusted. Each one is read only once it has settled (size and
mtime unchanged for ``settle_time``, or at once when the partner renamed it into
place), is matched to orders by its content, never its name, and ends in exactly one
place: the archive (applied, or a duplicate) or the error folder with a reason file
(refused, or for an unknown order). The journal is written before the file moves; a
crash in between is healed by recognising the already-journalled file on the next
pass (same path and hash, journalled after its mtime) and just finishing the move.

Several daemons may watch the same folders. Files are claimed in the journal (by path,
size and mtime, with a lease), a few at a time, before they are read, and the claims are
dropped at the end of the pass, when the files have moved; a daemon that finds a file
claimed by another skips it, so every file is ingested once, and daemons working
through one full folder share it chunk by chunk. A daemon that dies mid-file leaves a
claim that expires, and whoever takes the file over finds it journalled and only
finishes the move. Applying a document writes the order over the version it read and,
if another daemon wrote the order in between, reads it again and applies the document
to what is there now.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from filebridge.clock import Clock
from filebridge.engine.alerts import AlertDesk
from filebridge.engine.correlate import Change, apply_document
from filebridge.engine.events import EventHub, OrderEvent
from filebridge.engine.link import PartnerLink, SettleState
from filebridge.errors import (
    ConcurrentUpdate,
    DocumentError,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.formats.base import Codec, codec_for
from filebridge.journal.base import Journal
from filebridge.model import (
    Acknowledgement,
    AlertKind,
    Direction,
    Document,
    DocumentKind,
    ExchangeRecord,
    ExchangeStatus,
    Order,
    OrderResult,
    OrderRow,
    TimelineEntry,
)
from filebridge.transports.base import TEMP_SUFFIXES, RemoteFile, is_ignored_name

log = logging.getLogger("filebridge.inbox")

STALE_TEMP_AFTER = timedelta(hours=1)
DEFAULT_LEASE = timedelta(minutes=5)
CLAIM_CHUNK = 16  # files claimed per statement: few enough that daemons share a folder
SAVE_TRIES = 5  # re-reads of an order another daemon keeps writing, before giving up


@dataclass
class _Verdict:
    """What happens to one inbound file: its records, and where it goes."""

    records: list[ExchangeRecord]
    folder: str
    reason: str | None
    apply: list[Document] = field(default_factory=list)
    # the orders as read while matching: the first write of each goes over that version
    rows: dict[str, OrderRow] = field(default_factory=dict)


class Inbox:
    """Ingests one partner's inbound folders."""

    def __init__(
        self, journal: Journal, alerts: AlertDesk, events: EventHub, clock: Clock,
        claimant: str | None = None, lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.journal = journal
        self.alerts = alerts
        self.events = events
        self.clock = clock
        self.claimant = claimant or f"inbox-{uuid.uuid4().hex[:12]}"
        self.lease = lease

    def ingest(self, link: PartnerLink) -> int:
        """One pass over acks_dir and results_dir; returns how many files were handled."""
        renamed = link.take_renamed()
        handled = 0
        seen: set[str] = set()
        ready: list[RemoteFile] = []
        for folder in link.config.inbound_dirs:
            for remote in link.transport.list(folder):
                seen.add(remote.path)
                if self._ready(link, remote, renamed):
                    ready.append(remote)
        for path in list(link.settling):
            if path not in seen:
                del link.settling[path]
        if not ready:
            return 0
        try:
            while ready:
                claimed = self._claim(link, ready[:CLAIM_CHUNK])
                ready = ready[CLAIM_CHUNK:]
                renew_at = self.clock.now() + self.lease / 2
                for index, remote in enumerate(claimed):
                    if index and self.clock.now() >= renew_at:
                        # a slow chunk: renew the rest before its lease can run out
                        ready = claimed[index:] + ready
                        break
                    handled += self._guarded(link, remote)
        finally:
            self._release(link)
        return handled

    # -- claims ------------------------------------------------------------------
    def _claim(self, link: PartnerLink, files: list[RemoteFile]) -> list[RemoteFile]:
        """The files this daemon got; those another daemon holds are left to it."""
        now = self.clock.now()
        got = self.journal.claim_inbound_files(
            link.name, [(f.path, f.size, f.mtime) for f in files], self.claimant, now,
            now + self.lease)
        return [f for f in files if (f.path, f.size, float(f.mtime)) in got]

    def _release(self, link: PartnerLink) -> None:
        """Drop this pass's claims: its files have moved, or are left for the next pass."""
        try:
            self.journal.release_inbound_files(link.name, self.claimant)
        except Exception:
            log.exception("could not release claims on files of %s; they expire by themselves",
                          link.name, extra={"partner": link.name})

    # -- settling ----------------------------------------------------------------
    def _ready(self, link: PartnerLink, remote: RemoteFile, renamed: set[str]) -> bool:
        now = self.clock.now()
        if is_ignored_name(remote.name):
            self._maybe_report_stale(link, remote, now)
            return False
        if remote.path in renamed:
            link.settling.pop(remote.path, None)
            return True
        state = link.settling.get(remote.path)
        if state is None or (state.size, state.mtime) != (remote.size, remote.mtime):
            link.settling[remote.path] = SettleState(remote.size, remote.mtime, now)
            return link.config.settle_time <= timedelta(0)
        if now - state.stable_since >= link.config.settle_time:
            del link.settling[remote.path]
            return True
        return False

    def _maybe_report_stale(self, link: PartnerLink, remote: RemoteFile, now: datetime) -> None:
        """A temp file never renamed into place is logged once as ``ignored``."""
        if not remote.name.endswith(TEMP_SUFFIXES) or remote.path in link.reported_ignored:
            return
        if now - datetime.fromtimestamp(remote.mtime, UTC) < STALE_TEMP_AFTER:
            return
        link.reported_ignored.add(remote.path)
        record = self.journal.add_exchange(ExchangeRecord(
            at=now, partner=link.name, direction=Direction.IN, document=DocumentKind.UNKNOWN,
            file_name=remote.name, path=remote.path, size=remote.size,
            status=ExchangeStatus.IGNORED,
            error="temporary file not renamed into place for over an hour; the partner's "
                  "upload may have been interrupted"))
        self.events.emit("exchange", record)

    # -- one file ----------------------------------------------------------------
    def _guarded(self, link: PartnerLink, remote: RemoteFile) -> int:
        """One file's failure must not keep the others waiting: a transport problem
        about this file, or a bug, is logged and the file is tried again next pass;
        losing touch with the partner ends the pass (the caller tracks that)."""
        try:
            return self._ingest_file(link, remote)
        except PartnerUnreachable:
            raise
        except TransportError as exc:
            log.error("could not ingest %s: %s", remote.path, exc,
                      extra={"partner": link.name, "file": remote.name, "event": "ingest_failed"})
        except Exception:
            log.exception("unexpected error ingesting %s; it stays in place for the next pass",
                          remote.path, extra={"partner": link.name, "file": remote.name})
        return 0

    def _ingest_file(self, link: PartnerLink, remote: RemoteFile) -> int:
        policy = link.config
        now = self.clock.now()
        if remote.size > policy.max_inbound_size:
            verdict = self._refuse(link, remote, None, None,
                                   f"file is {remote.size} bytes, over the limit of "
                                   f"{policy.max_inbound_size} (max_inbound_size); not read")
            return self._finish(link, remote, verdict)
        try:
            data = link.transport.read(remote.path, policy.max_inbound_size)
        except RemoteFileMissing:
            return 0  # the partner took it back; nothing to do
        sha = hashlib.sha256(data).hexdigest()
        earlier = self.journal.last_inbound_record(link.name, remote.path, sha)
        if earlier is not None and earlier.at.timestamp() >= remote.mtime:
            # Journalled before a crash, not yet moved: finish the move, apply nothing.
            folder = policy.archive_dir if earlier.status in (
                ExchangeStatus.OK, ExchangeStatus.DUPLICATE) else policy.error_dir
            self._move(link, remote, folder, earlier.error)
            return 1
        if not data:
            verdict = self._refuse(link, remote, data, sha, "empty file (0 bytes)")
            return self._finish(link, remote, verdict)
        try:
            documents = _codec_for_bytes(data, link).decode(data)
        except DocumentError as exc:
            verdict = self._refuse(link, remote, data, sha, str(exc))
            return self._finish(link, remote, verdict)
        verdict = self._correlate(link, remote, data, sha, documents, now)
        return self._finish(link, remote, verdict)

    def _refuse(self, link: PartnerLink, remote: RemoteFile, data: bytes | None,
                sha: str | None, reason: str) -> _Verdict:
        record = ExchangeRecord(
            at=self.clock.now(), partner=link.name, direction=Direction.IN,
            document=DocumentKind.UNKNOWN, file_name=remote.name, path=remote.path,
            size=len(data) if data is not None else remote.size, sha256=sha,
            status=ExchangeStatus.QUARANTINED, error=reason)
        return _Verdict([record], link.config.error_dir, reason)

    def _correlate(self, link: PartnerLink, remote: RemoteFile, data: bytes, sha: str,
                   documents: list[Document], now: datetime) -> _Verdict:
        """Match every document to its order; a file with any unknown order applies nothing."""
        base = {"at": now, "partner": link.name, "direction": Direction.IN,
                "file_name": remote.name, "path": remote.path, "size": len(data), "sha256": sha}
        rows = self._orders_of(link, {order_id_of(doc) for doc in documents})
        unknown = sorted({order_id_of(doc) for doc in documents} - set(rows))
        if unknown:
            reason = f"unknown order id(s) for partner {link.name}: {', '.join(unknown)}"
            records = [ExchangeRecord(
                **base, document=DocumentKind(doc.kind), order_id=order_id_of(doc),
                message_id=doc.message_id,
                status=ExchangeStatus.UNMATCHED if order_id_of(doc) in unknown
                else ExchangeStatus.QUARANTINED,
                error=reason if order_id_of(doc) in unknown
                else f"not applied: the same file holds {reason}") for doc in documents]
            return _Verdict(records, link.config.error_dir, reason)
        records = []
        to_apply: list[Document] = []
        seen_in_file: set[str] = set()
        for doc in documents:
            order_id = order_id_of(doc)
            duplicate = doc.message_id in seen_in_file or self.journal.inbound_message_seen(
                link.name, doc.message_id)
            seen_in_file.add(doc.message_id)
            records.append(ExchangeRecord(
                **base, document=DocumentKind(doc.kind), order_id=order_id,
                message_id=doc.message_id,
                status=ExchangeStatus.DUPLICATE if duplicate else ExchangeStatus.OK,
                error=f"MessageId {doc.message_id} was already processed" if duplicate
                else None))
            if not duplicate:
                to_apply.append(doc)
        return _Verdict(records, link.config.archive_dir, None, to_apply, rows)

    def _orders_of(self, link: PartnerLink, order_ids: set[str]) -> dict[str, OrderRow]:
        """The partner's orders among ``order_ids``; the others are unknown to it."""
        found = {}
        for order_id in sorted(order_ids):
            row = self.journal.get_order(order_id)
            if row is not None and row.partner == link.name:
                found[order_id] = row
        return found

    def _finish(self, link: PartnerLink, remote: RemoteFile, verdict: _Verdict) -> int:
        """Journal the records and state changes in one transaction, then move the file."""
        emitted: list[OrderEvent] = []
        with self.journal.transaction():
            stored = [self.journal.add_exchange(rec) for rec in verdict.records]
            by_message = {rec.message_id: rec for rec in stored if rec.status is ExchangeStatus.OK}
            for doc in verdict.apply:
                emitted.extend(self._apply(link, doc, by_message.get(doc.message_id),
                                           verdict.rows))
            for rec in stored:
                if rec.status is not ExchangeStatus.OK and rec.order_id:
                    self.journal.add_event(rec.order_id, TimelineEntry(
                        at=rec.at, event="exchange", exchange_id=rec.id,
                        detail=f"{rec.document.value} {rec.file_name}: {rec.status.value}"
                               + (f" ({rec.error})" if rec.error else "")))
            if verdict.folder == link.config.error_dir and verdict.records[0].status in (
                    ExchangeStatus.QUARANTINED, ExchangeStatus.UNMATCHED):
                self.alerts.open(
                    AlertKind.QUARANTINED_FILE, link.name, None,
                    f"files from {link.name} were refused and moved to "
                    f"{link.config.error_dir}; latest: {remote.name}",
                    error=verdict.reason)
        for rec in stored:
            log.log(logging.INFO if rec.status is ExchangeStatus.OK else logging.WARNING,
                    "received %s %s: %s", rec.document.value, rec.file_name, rec.status.value,
                    extra={"partner": link.name, "order_id": rec.order_id, "event": "received",
                           "file": rec.file_name, "error": rec.error})
        self._move(link, remote, verdict.folder, verdict.reason)
        for rec in stored:
            self.events.emit("exchange", rec)
        for event in emitted:
            self.events.emit(event.event, event)
        return 1

    def _apply(self, link: PartnerLink, doc: Document, record: ExchangeRecord | None,
               rows: dict[str, OrderRow]) -> list[OrderEvent]:
        order_id = order_id_of(doc)
        applied = self._save_applied(link, doc, order_id, rows.get(order_id))
        if applied is None:
            return []
        row, change = applied
        rows[order_id] = change.row  # saved: its version is the stored one
        self.journal.add_event(order_id, TimelineEntry(
            at=self.clock.now(), event="exchange", detail=change.detail,
            state=change.row.state if change.row.state != row.state else None,
            exchange_id=record.id if record else None))
        for kind in change.resolves:
            self.alerts.resolve(kind, link.name, order_id)
        if change.event is None:
            return []
        return [OrderEvent(change.event, order_id, link.name, change.row.state, doc)]

    def _save_applied(self, link: PartnerLink, doc: Document, order_id: str,
                      known: OrderRow | None) -> tuple[OrderRow, Change] | None:
        """Apply ``doc`` to the order as last read (``known``, else read now) and save it
        over that version; if another daemon wrote the order in between, read it again
        and apply it again."""
        for attempt in range(1, SAVE_TRIES + 1):
            row = known if attempt == 1 and known is not None else (
                self.journal.get_order(order_id))
            if row is None:
                return None
            change = apply_document(row, doc, link.config, self.clock.now())
            try:
                self.journal.save_order(change.row)
                return row, change
            except ConcurrentUpdate:
                if attempt == SAVE_TRIES:
                    raise  # the whole file is tried again on the next pass
        return None

    def _move(self, link: PartnerLink, remote: RemoteFile, folder: str,
              reason: str | None) -> None:
        try:
            link.transport.move(remote.path, folder, reason)
        except RemoteFileMissing:
            pass
        except TransportError as exc:
            log.error("could not move %s to %s: %s", remote.path, folder, exc,
                      extra={"partner": link.name, "event": "move_failed"})


def order_id_of(document: Document) -> str:
    """Every document type carries the OrderId it is about."""
    return cast(Acknowledgement | OrderResult | Order, document).order_id


def _codec_for_bytes(data: bytes, link: PartnerLink) -> Codec:
    """XML when the content starts with '<' (after a BOM and blanks), else CSV."""
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return codec_for("xml")
    return codec_for("csv", link.config.csv_delimiter)
