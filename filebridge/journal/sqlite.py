"""The journal on SQLite: the embedded default, one file next to the config.

Settings, and why:

- WAL: readers (``status``, ``log``) never block the daemon's writes and vice versa.
- ``synchronous = FULL``: ``submit`` promises the order is durable before it returns. In
  WAL mode NORMAL survives ``kill -9`` but may drop the last commits on a power cut, and
  then a restarted daemon could forget it already sent a file. FULL costs one fsync per
  commit; the engine batches each poll's writes in one ``transaction()``, so that is one
  fsync per batch, not per record.
- ``BEGIN IMMEDIATE`` for every write transaction: it takes the write lock up front, so
  two writers queue on ``busy_timeout`` instead of one failing with "database is locked"
  when it tries to upgrade a read transaction. This is also what makes a claim atomic.
- One connection per thread; ``:memory:`` is one connection shared (and serialised)
  across threads, since every in-memory connection would be a separate database.
- The file is created ``0600`` (SQLite gives its ``-wal``/``-shm`` files the mode of the
  database), and a missing parent folder is created ``0700``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from filebridge.errors import JournalError
from filebridge.journal.codec import RowCodec, to_utc, utc_iso
from filebridge.journal.sql import SqlJournal
from filebridge.journal.store import Session
from filebridge.model import Order

MEMORY = ":memory:"
MINIMUM_SQLITE = (3, 35, 0)  # RETURNING


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _decode_time(value: Any) -> datetime:
    return to_utc(datetime.fromisoformat(value))


def _decode_document(value: Any) -> Order:
    return Order.model_validate_json(value)


def _encode_document(order: Order) -> str:
    return order.model_dump_json()


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (and its folder 0700) unless it exists."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from exc
    os.close(fd)


class SqliteJournal(SqlJournal):
    """A journal in one SQLite file (or ``:memory:`` for tests)."""

    column_types: ClassVar[dict[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",  # AUTOINCREMENT: ids never come back
        "ts": "TEXT",
        "blob": "BLOB",
        "json": "TEXT",
    }
    begin_statement: ClassVar[str] = "BEGIN IMMEDIATE"
    driver_error: ClassVar[type[Exception]] = sqlite3.Error
    busy_timeout_ms: ClassVar[int] = 15_000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
            raise JournalError(
                f"the SQLite journal needs SQLite 3.35 or newer; this Python has "
                f"{sqlite3.sqlite_version}"
            )
        self.memory = str(path) == MEMORY
        self.path = Path(path) if not self.memory else None
        self._shared: Session | None = None
        if self.path is not None:
            create_private_file(self.path)
        codec = RowCodec(utc_iso, _decode_time, _encode_document, _decode_document)
        super().__init__(f"sqlite:///{path}", codec)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            MEMORY if self.path is None else self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # used by one thread, but closed by whoever closes
            cached_statements=256,  # prepared once per connection, reused by text
        )
        try:
            connection.row_factory = _dict_row
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def _session(self) -> Session:
        if not self.memory:
            return super()._session()
        if self._shared is None:
            self._shared = self._open_session(owner=None)
        return self._shared

    def close(self) -> None:
        self._shared = None
        super().close()

    def _check_is_journal(self) -> None:
        rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = sorted(row["name"] for row in rows if not row["name"].startswith("sqlite_"))
        if tables and "schema_version" not in tables:
            raise JournalError(
                f"{self.path} is a SQLite database but not a filebridge journal "
                f"(it holds {', '.join(tables[:5])}); point [journal] url at another file"
            )

    def _claim_statement(
        self, where: str, params: Sequence[Any], limit: int, claimant: str, lease_until: Any
    ) -> tuple[str, Sequence[Any]]:
        # One statement inside BEGIN IMMEDIATE: no other writer can run between the
        # choice of rows and their marking.
        sql = (
            "UPDATE orders SET claimed_by = ?, claim_expires_at = ?, version = version + 1 "
            "WHERE seq IN ("
            f"SELECT seq FROM orders WHERE {where} ORDER BY created_at, seq LIMIT ?"
            ") RETURNING *"
        )
        return sql, (claimant, lease_until, *params, limit)
