"""Inbound ingest: partner files in acks_dir and results_dir become state changes.

Partner files are untrusted. Each one is read only once it has settled (size and
mtime unchanged for ``settle_time``, or at once when the partner renamed it into
place), is matched to orders by its content, never its name, and ends in exactly one
place: the archive (applied, or a duplicate) or the error folder with a reason file
(refused, or for an unknown order). The journal is written before the file moves; a
crash in between is healed by recognising the already-journalled file on the next
pass (same path and hash, journalled after its mtime) and just finishing the move.

Files are handled a chunk at a time: the chunk's files are downloaded together (over
several channels on SFTP), each gets its verdict, every verdict of the chunk is
journalled in one transaction, and then the files are moved together.

Several daemons may watch the same folders. Files are claimed in the journal (by path,
size and mtime, with a lease), a few at a time, before they are read, and the claims are
dropped at the end of the pass, when the files have moved; a daemon that finds a file
claimed by another skips it, so every file is ingested once, and daemons working
through one full folder share it chunk by chunk. The claims are taken again inside the
transaction that journals the chunk, and a file journalled meanwhile by another daemon
(ours ran out while we read) is only moved. A daemon that dies mid-file leaves a claim
that expires, and whoever takes the file over finds it journalled and only finishes
the move. Applying a document writes the order over the version it read and,
if another daemon wrote the order in between, reads it again and applies the document
to what is there now.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from filebridge.clock import Clock
from filebridge.engine.alerts import AlertDesk
from filebridge.engine.correlate import Change, apply_document
from filebridge.engine.events import EventHub, OrderEvent
from filebridge.engine.link import PartnerLink, SettleState
from filebridge.engine.verdict import Verdict, decide, healed, order_id_of, refuse
from filebridge.errors import (
    ConcurrentUpdate,
    PartnerUnreachable,
    RemoteFileMissing,
    TransportError,
)
from filebridge.journal.base import Journal
from filebridge.model import (
    AlertKind,
    Direction,
    Document,
    DocumentKind,
    ExchangeRecord,
    ExchangeStatus,
    OrderRow,
    TimelineEntry,
    changed_fields,
)
from filebridge.outside_text import shown
from filebridge.transports.base import (
    REASON_SUFFIX,
    TEMP_SUFFIXES,
    RemoteFile,
    is_ignored_name,
)

log = logging.getLogger("filebridge.inbox")

STALE_TEMP_AFTER = timedelta(hours=1)
DEFAULT_LEASE = timedelta(minutes=5)
# Files are claimed, read, journalled and moved a chunk at a time: large chunks keep
# many transfers in flight, small ones let daemons share a folder. A chunk is a quarter
# of what is waiting, within these bounds, so a burst goes fast and is still shared.
CHUNK_MIN, CHUNK_MAX = 16, 128
SAVE_TRIES = 5  # re-reads of an order another daemon keeps writing, before giving up


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
        chunk = max(CHUNK_MIN, min(CHUNK_MAX, len(ready) // 4))
        moves = MoveTally()
        try:
            while ready:
                claimed = self._claim(link, ready[:chunk])
                ready = ready[chunk:]
                if claimed:
                    handled += self._guarded(link, claimed, moves)
        finally:
            self._release(link)
        self._report_moves(link, moves)
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
        if state is None and link.transport.shares_our_clock and (
                now - datetime.fromtimestamp(remote.mtime, UTC) >= link.config.settle_time):
            return True  # first seen, but untouched for settle_time already (a restart)
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

    # -- one chunk ---------------------------------------------------------------
    def _guarded(self, link: PartnerLink, files: list[RemoteFile], moves: MoveTally) -> int:
        """One chunk's failure must not keep the others waiting: a bug or a journal
        conflict is logged and the chunk's files stay for the next pass; losing touch
        with the partner ends the pass (the caller tracks that)."""
        try:
            return self._ingest_chunk(link, files, moves)
        except PartnerUnreachable:
            raise
        except Exception:
            log.exception("unexpected error ingesting %d file(s) of %s; they stay in place "
                          "for the next pass", len(files), link.name,
                          extra={"partner": link.name, "event": "ingest_failed"})
        return 0

    def _ingest_chunk(self, link: PartnerLink, files: list[RemoteFile],
                      moves: MoveTally) -> int:
        """Returns how many files were received now: a file journalled on an earlier
        pass and only moved now (healed) is not received again."""
        verdicts = self._decide(link, files)
        emitted: list[OrderEvent] = []
        stored: list[ExchangeRecord] = []
        with self.journal.transaction():
            # claim the files again inside the transaction that journals them: one whose
            # claim ran out while it was read, and was taken over, is not journalled a
            # second time, and nobody can take these over until this commits
            held = {f.path for f in self._claim(link, [v.remote for v in verdicts])}
            verdicts = [self._still_new(link, verdict) for verdict in verdicts
                        if verdict.remote.path in held]
            for verdict in verdicts:
                records, events = self._journal(link, verdict)
                stored += records
                emitted += events
        for record in stored:
            log.log(logging.INFO if record.status is ExchangeStatus.OK else logging.WARNING,
                    "received %s %s: %s", record.document.value, record.file_name,
                    record.status.value,
                    extra={"partner": link.name, "order_id": record.order_id,
                           "event": "received", "file": record.file_name,
                           "error": record.error})
        self._move(link, verdicts, moves)
        for record in stored:
            self.events.emit("exchange", record)
        for event in emitted:
            self.events.emit(event.event, event)
        return sum(1 for verdict in verdicts if not verdict.healed)

    def _decide(self, link: PartnerLink, files: list[RemoteFile]) -> list[Verdict]:
        """Download the chunk and judge each file; nothing is written yet."""
        policy = link.config
        now = self.clock.now()
        verdicts: list[Verdict] = []
        small = [f for f in files if f.size <= policy.max_inbound_size]
        for remote in files:
            if remote.size > policy.max_inbound_size:
                verdicts.append(refuse(remote, policy, None, None,
                                       f"file is {remote.size} bytes, over the limit of "
                                       f"{policy.max_inbound_size} (max_inbound_size); "
                                       f"not read", now))
        applied: set[str] = set()
        contents = link.transport.read_many([f.path for f in small], policy.max_inbound_size)
        for remote, data in zip(small, contents, strict=True):
            if isinstance(data, PartnerUnreachable):
                raise data
            if isinstance(data, RemoteFileMissing):
                continue  # the partner took it back; nothing to do
            if isinstance(data, TransportError):
                log.error("could not read %s: %s", remote.path, data,
                          extra={"partner": link.name, "file": remote.name,
                                 "event": "ingest_failed"})
                continue
            sha = hashlib.sha256(data).hexdigest()
            earlier = self.journal.last_inbound_record(link.name, remote.path, sha)
            if earlier is not None and _journalled_already(link, remote, earlier):
                verdicts.append(healed(remote, earlier, policy))
            else:
                verdicts.append(decide(remote, policy, data, sha, self.journal, applied, now))
        return verdicts

    def _still_new(self, link: PartnerLink, verdict: Verdict) -> Verdict:
        """Under the file's renewed claim, inside the journalling transaction: if another
        daemon journalled the file since it was read here (our claim ran out, it took the
        file over, finished and let go), only the move is left to do."""
        sha = verdict.records[0].sha256 if verdict.records else None
        if verdict.healed or sha is None:
            return verdict
        earlier = self.journal.last_inbound_record(link.name, verdict.remote.path, sha)
        if earlier is not None and _journalled_already(link, verdict.remote, earlier):
            return healed(verdict.remote, earlier, link.config)
        return verdict

    def _journal(self, link: PartnerLink, verdict: Verdict
                 ) -> tuple[list[ExchangeRecord], list[OrderEvent]]:
        """Write one verdict inside the chunk's transaction: records, state changes,
        timeline lines, and the partner's quarantine alert."""
        if verdict.healed:
            return [], []
        stored = [self.journal.add_exchange(rec) for rec in verdict.records]
        by_message = {rec.message_id: rec for rec in stored if rec.status is ExchangeStatus.OK}
        emitted: list[OrderEvent] = []
        for doc in verdict.apply:
            emitted += self._apply(link, doc, by_message.get(doc.message_id), verdict.rows)
        for rec in stored:
            if rec.status is not ExchangeStatus.OK and rec.order_id:
                self.journal.add_event(rec.order_id, TimelineEntry(
                    at=rec.at, event="exchange", exchange_id=rec.id,
                    detail=f"{rec.document.value} {rec.file_name}: {rec.status.value}"
                           + (f" ({rec.error})" if rec.error else "")))
        if verdict.refused:
            self.alerts.open(
                AlertKind.QUARANTINED_FILE, link.name, None,
                f"files from {link.name} were refused and moved to "
                f"{link.config.error_dir}; latest: {verdict.remote.name}",
                error=verdict.reason)
        return stored, emitted

    def resolve_cleared_quarantine(self, link: PartnerLink) -> None:
        """A ``quarantined_file`` alert resolves when its cause is gone: an operator has
        dealt with every refused file (moved or deleted it from the error folder)."""
        if not self.journal.alerts(partner=link.name, kind=AlertKind.QUARANTINED_FILE):
            return
        waiting = [f for f in link.transport.list(link.config.error_dir)
                   if not f.name.endswith(REASON_SUFFIX)]
        if not waiting:
            self.alerts.resolve(AlertKind.QUARANTINED_FILE, link.name, None)

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
        if change.resolves:
            self.alerts.release(change.resolves, link.name, order_id)
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
                self.journal.save_order(change.row, fields=changed_fields(row, change.row))
                return row, change
            except ConcurrentUpdate:
                if attempt == SAVE_TRIES:
                    raise  # the whole file is tried again on the next pass
        return None

    def _move(self, link: PartnerLink, verdicts: list[Verdict], moves: MoveTally) -> None:
        """File every handled file away; a file that cannot be moved now is healed on
        the next pass (journalled already, so it is only moved then)."""
        results = link.transport.move_many(
            [(v.remote.path, v.folder, reason_file_text(v.reason)) for v in verdicts])
        for verdict, result in zip(verdicts, results, strict=True):
            link.unmoved.pop(verdict.remote.path, None)
            if isinstance(result, TransportError) and not isinstance(result, RemoteFileMissing):
                link.unmoved[verdict.remote.path] = (verdict.remote.size, verdict.remote.mtime)
                moves.failed.append((verdict, str(result)))
                log.debug("could not move %s to %s: %s", verdict.remote.path, verdict.folder,
                          result, extra={"partner": link.name, "event": "move_failed",
                                         "file": verdict.remote.name})
            elif not isinstance(result, TransportError):
                moves.done += 1

    def _report_moves(self, link: PartnerLink, moves: MoveTally) -> None:
        """Files that cannot be filed away are one ``move_failed`` alert of the partner,
        logged as an ERROR when it opens (not on every pass while the folder stays
        unwritable); a pass that files everything away resolves it."""
        if moves.failed:
            verdict, error = moves.failed[-1]
            folders = sorted({v.folder for v, _ in moves.failed})
            opening = self.alerts.open(
                AlertKind.MOVE_FAILED, link.name, None,
                f"{len(moves.failed)} file(s) of {link.name} could not be moved to "
                f"{', '.join(folders)}; latest: {shown(verdict.remote.name)}",
                error=shown(error))
            if opening.created:
                log.error("could not move %d file(s) to %s (latest %s: %s); they stay in "
                          "place, are not applied twice, and are moved once that works "
                          "(alert %s)", len(moves.failed), ", ".join(folders),
                          verdict.remote.path, error, opening.alert.id,
                          extra={"partner": link.name, "event": "move_failed",
                                 "file": verdict.remote.name})
        elif moves.done:
            self.alerts.resolve(AlertKind.MOVE_FAILED, link.name)


def _journalled_already(link: PartnerLink, remote: RemoteFile, earlier: ExchangeRecord) -> bool:
    """Whether this file, found journalled with the same path and content, is the very
    file journalled then (only its move is left), not the same content uploaded again:
    journalled after its mtime, or listed unchanged since its move failed here."""
    return (earlier.at.timestamp() >= remote.mtime
            or link.unmoved.get(remote.path) == (remote.size, remote.mtime))


@dataclass
class MoveTally:
    """How moving one pass's files went: the files that could not be moved (with the
    error), and how many were."""

    failed: list[tuple[Verdict, str]] = field(default_factory=list)
    done: int = 0


def reason_file_text(reason: str | None) -> str | None:
    """What a ``.reason.txt`` holds: the reason on one line, whatever of a partner's text
    it quotes escaped (an operator ``cat``s it on a terminal) and capped."""
    return None if reason is None else shown(reason) + "\n"
