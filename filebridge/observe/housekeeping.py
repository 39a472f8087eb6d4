"""Housekeeping: old journal rows and old archived partner files go, the rest stays.

``prune_journal`` deletes through the journal's own ``prune`` (which keeps open alerts
and unfinished orders whatever their age). A dry run performs the very same deletes
inside a transaction and rolls it back, so the count it reports is exactly what a real
run would remove, without a second copy of the rules.

``prune_archive`` removes files from a partner's ``archive_dir`` whose modification time
is older than the partner's ``archive_keep`` (unset: keep everything). A file moved into
the archive keeps the time the partner wrote it, so that is the age that counts. Only
the archive is pruned: files in ``error_dir`` wait for a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from filebridge.config import PartnerConfig
from filebridge.errors import PartnerUnreachable, RemoteFileMissing, TransportError
from filebridge.journal.base import Journal
from filebridge.transports.base import Transport

log = logging.getLogger("filebridge.prune")


class _RollBack(Exception):
    """Raised inside a dry run's transaction to undo what it did."""


def prune_journal(journal: Journal, before: datetime, *, dry_run: bool = False) -> int:
    """Rows older than ``before`` removed (or, with ``dry_run``, that would be)."""
    if not dry_run:
        removed = journal.prune(before)
        log.info("journal: removed %d rows older than %s", removed, f"{before:%Y-%m-%d %H:%M:%SZ}",
                 extra={"event": "prune"})
        return removed
    counted = 0
    try:
        with journal.transaction():
            counted = journal.prune(before)
            raise _RollBack
    except _RollBack:
        pass
    log.info("journal: %d rows older than %s would be removed (dry run)", counted,
             f"{before:%Y-%m-%d %H:%M:%SZ}", extra={"event": "prune"})
    return counted


@dataclass
class ArchivePrune:
    """What pruning one partner's archive did (or would do)."""

    partner: str
    folder: str
    keep: timedelta | None
    before: datetime | None = None
    removed: list[str] = field(default_factory=list)
    kept: int = 0
    failed: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "keep_seconds": self.keep.total_seconds() if self.keep is not None else None,
            "before": self.before.isoformat() if self.before else None,
            "removed": len(self.removed),
            "kept": self.kept,
            "files": self.removed,
            "failed": self.failed,
            "error": self.error,
        }


def prune_archive(partner: PartnerConfig, transport: Transport, now: datetime, *,
                  dry_run: bool = False) -> ArchivePrune:
    """Remove the partner's archived files older than ``archive_keep``; never raises for
    a partner's trouble: it is reported in the result."""
    result = ArchivePrune(partner.name, partner.archive_dir, partner.archive_keep)
    if partner.archive_keep is None:
        return result
    result.before = before = now - partner.archive_keep
    cut = before.timestamp()
    try:
        files = transport.list(partner.archive_dir)
    except RemoteFileMissing:
        files = []
    except TransportError as exc:
        result.error = str(exc)
        log.error("archive of %s not pruned: %s", partner.name, exc,
                  extra={"partner": partner.name, "event": "prune", "error": str(exc)})
        return result
    for remote in sorted(files, key=lambda f: (f.mtime, f.name)):
        if remote.mtime >= cut:
            result.kept += 1
            continue
        if not dry_run:
            try:
                transport.remove(remote.path)
            except RemoteFileMissing:
                continue  # somebody else removed it meanwhile
            except PartnerUnreachable as exc:
                result.error = str(exc)
                break
            except TransportError as exc:
                result.failed.append(f"{remote.name}: {exc}")
                continue
        result.removed.append(remote.name)
        log.debug("archive of %s: %s %s", partner.name,
                  "would remove" if dry_run else "removed", remote.path,
                  extra={"partner": partner.name, "file": remote.name, "event": "prune"})
    verb = "would remove" if dry_run else "removed"
    log.log(logging.INFO if result.ok else logging.ERROR,
            "archive of %s: %s %d files older than %s, kept %d%s", partner.name, verb,
            len(result.removed), f"{before:%Y-%m-%d %H:%M:%SZ}", result.kept,
            f"; {result.error or f'{len(result.failed)} could not be removed'}"
            if not result.ok else "",
            extra={"partner": partner.name, "event": "prune", "error": result.error})
    return result


def duration_text(delta: timedelta) -> str:
    """``90d``, ``36h``, ``15m``, ``45s``: a duration the way the config writes one."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
