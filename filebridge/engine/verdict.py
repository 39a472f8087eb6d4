"""What happens to one inbound file, decided before anything is written.

The inbox reads a chunk of files, asks here for each one's verdict (its exchange
records, the documents to apply, and the folder it ends in), and then journals every
verdict of the chunk in one transaction. Deciding touches the journal only to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from filebridge.config import PartnerConfig
from filebridge.errors import DocumentError
from filebridge.formats.base import Codec
from filebridge.formats.csv import CsvCodec
from filebridge.formats.xml import XmlCodec
from filebridge.journal.base import Journal
from filebridge.model import (
    Acknowledgement,
    Direction,
    Document,
    DocumentKind,
    ExchangeRecord,
    ExchangeStatus,
    Order,
    OrderResult,
    OrderRow,
)
from filebridge.transports.base import RemoteFile

ANSWERS = (Acknowledgement, OrderResult)


@dataclass
class Verdict:
    """One inbound file's records, the documents to apply, and where the file goes."""

    remote: RemoteFile
    records: list[ExchangeRecord]
    folder: str
    reason: str | None
    apply: list[Document] = field(default_factory=list)
    # the orders as read while matching: the first write of each goes over that version
    rows: dict[str, OrderRow] = field(default_factory=dict)
    healed: bool = False  # journalled before a crash: only the move is left to do

    @property
    def refused(self) -> bool:
        return any(r.status in (ExchangeStatus.QUARANTINED, ExchangeStatus.UNMATCHED)
                   for r in self.records)


def healed(remote: RemoteFile, earlier: ExchangeRecord, partner: PartnerConfig) -> Verdict:
    """A file journalled before a crash but not yet moved: move it, apply nothing."""
    folder = partner.archive_dir if earlier.status in (
        ExchangeStatus.OK, ExchangeStatus.DUPLICATE) else partner.error_dir
    return Verdict(remote, [], folder, earlier.error, healed=True)


def refuse(remote: RemoteFile, partner: PartnerConfig, data: bytes | None, sha: str | None,
           reason: str, now: datetime) -> Verdict:
    """Quarantine the whole file: one record without an order id, the error folder."""
    record = ExchangeRecord(
        at=now, partner=partner.name, direction=Direction.IN, document=DocumentKind.UNKNOWN,
        file_name=remote.name, path=remote.path,
        size=len(data) if data is not None else remote.size, sha256=sha,
        status=ExchangeStatus.QUARANTINED, error=reason)
    return Verdict(remote, [record], partner.error_dir, reason)


def decide(remote: RemoteFile, partner: PartnerConfig, data: bytes, sha: str,
           journal: Journal, applied: set[str], now: datetime) -> Verdict:
    """Parse, validate and match one file. ``applied`` holds the MessageIds applied earlier
    in the same chunk (not yet in the journal); this file's are added to it."""
    if not data:
        return refuse(remote, partner, data, sha, "empty file (0 bytes)", now)
    try:
        documents = codec_for_bytes(data, partner).decode(data)
    except DocumentError as exc:
        return refuse(remote, partner, data, sha, str(exc), now)
    strays = sorted({type(d).__name__ for d in documents if not isinstance(d, ANSWERS)})
    if strays:
        return refuse(remote, partner, data, sha,
                      f"holds {', '.join(strays)}: only acknowledgements and results are "
                      f"read from a partner's folders", now)
    return _correlate(remote, partner, data, sha, documents, journal, applied, now)


def _correlate(remote: RemoteFile, partner: PartnerConfig, data: bytes, sha: str,
               documents: list[Document], journal: Journal, applied: set[str],
               now: datetime) -> Verdict:
    """Match every document to its order; a file with any unknown order applies nothing."""
    base = {"at": now, "partner": partner.name, "direction": Direction.IN,
            "file_name": remote.name, "path": remote.path, "size": len(data), "sha256": sha}
    rows = _orders_of(journal, partner.name, {order_id_of(doc) for doc in documents})
    unknown = sorted({order_id_of(doc) for doc in documents} - set(rows))
    if unknown:
        reason = f"unknown order id(s) for partner {partner.name}: {', '.join(unknown)}"
        records = [ExchangeRecord(
            **base, document=DocumentKind(doc.kind), order_id=order_id_of(doc),
            message_id=doc.message_id,
            status=ExchangeStatus.UNMATCHED if order_id_of(doc) in unknown
            else ExchangeStatus.QUARANTINED,
            error=reason if order_id_of(doc) in unknown
            else f"not applied: the same file holds {reason}") for doc in documents]
        return Verdict(remote, records, partner.error_dir, reason)
    records = []
    to_apply: list[Document] = []
    for doc in documents:
        duplicate = doc.message_id in applied or journal.inbound_message_seen(
            partner.name, doc.message_id)
        applied.add(doc.message_id)
        records.append(ExchangeRecord(
            **base, document=DocumentKind(doc.kind), order_id=order_id_of(doc),
            message_id=doc.message_id,
            status=ExchangeStatus.DUPLICATE if duplicate else ExchangeStatus.OK,
            error=f"MessageId {doc.message_id} was already processed" if duplicate
            else None))
        if not duplicate:
            to_apply.append(doc)
    return Verdict(remote, records, partner.archive_dir, None, to_apply, rows)


def _orders_of(journal: Journal, partner: str, order_ids: set[str]) -> dict[str, OrderRow]:
    """The partner's orders among ``order_ids``; the others are unknown to it."""
    found = {}
    for order_id in sorted(order_ids):
        row = journal.get_order(order_id)
        if row is not None and row.partner == partner:
            found[order_id] = row
    return found


def order_id_of(document: Document) -> str:
    """Every document type carries the OrderId it is about."""
    return cast(Acknowledgement | OrderResult | Order, document).order_id


def codec_for_bytes(data: bytes, partner: PartnerConfig) -> Codec:
    """XML when the content starts with '<' (after a BOM and blanks), else CSV with the
    partner's delimiter; both refuse files over the partner's ``max_inbound_size``."""
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return XmlCodec(max_size=partner.max_inbound_size)
    return CsvCodec(delimiter=partner.csv_delimiter, max_size=partner.max_inbound_size)
