"""The SQL plumbing under the journal: connections, transactions, migrations, errors.

Modelled on huey's ``BaseSqlStorage``: one base class owns the DDL and the transaction
discipline, and a dialect subclass only says how to connect and where its SQL differs.
Statements are written once with ``?`` placeholders; a dialect that wants another style
rewrites them once per distinct statement (cached), so the hot path does no parsing and
the driver's statement cache sees the same text every time.

Connections: one per thread (``threading.local``), each opened on first use, all closed
by ``close()``. Every connection runs in autocommit mode and transactions are explicit
(``BEGIN`` ... ``COMMIT``), so a read outside ``transaction()`` never leaves a transaction
open and a write outside it commits on its own.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from filebridge.errors import JournalError
from filebridge.journal.codec import RowCodec
from filebridge.journal.schema import LATEST_VERSION, MIGRATIONS, SCHEMA_VERSION_DDL

Row = dict[str, Any]


@dataclass
class Session:
    """One connection, the thread that owns it, and its transaction depth.

    ``owner`` is None for a connection every thread shares; ``lock`` then serialises
    them (for a per-thread connection it is never contended). A session whose connection
    broke is ``retired`` and replaced on its thread's next call.
    """

    connection: Any
    owner: threading.Thread | None
    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    retired: bool = False


class SqlStore(ABC):
    """Per-thread connections, nested transactions and migrations for one database."""

    #: SQL type of each DDL token (see ``filebridge.journal.schema``)
    column_types: ClassVar[dict[str, str]]
    #: the statement that opens a write transaction
    begin_statement: ClassVar[str] = "BEGIN"
    #: the driver's base exception, translated into ``JournalError`` at this boundary
    driver_error: ClassVar[type[Exception]] = Exception

    def __init__(self, display_url: str, codec: RowCodec) -> None:
        self.display_url = display_url  # the URL with any password masked
        self.codec = codec
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._sessions_lock = threading.Lock()
        self._closed = False
        self._sql_cache: dict[str, str] = {}
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- dialect hooks -------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any:
        """A new, configured, autocommit DB-API connection whose rows are dicts."""

    def _translate(self, sql: str) -> str:
        """Rewrite a ``?``-style statement into the driver's placeholder style."""
        return sql

    def _lock_schema(self) -> None:  # noqa: B027 - most dialects need no extra lock
        """Inside the migration transaction: keep other processes out until it commits."""

    def _check_is_journal(self) -> None:  # noqa: B027 - a check only some dialects can make
        """Refuse a database that holds something other than a journal."""

    def _describe(self, exc: BaseException) -> str:
        """A driver error as text, with anything secret masked."""
        return str(exc).strip() or type(exc).__name__

    def _is_broken(self, connection: Any) -> bool:
        """Whether ``connection`` is beyond use (e.g. the server went away)."""
        return False

    # -- connections -----------------------------------------------------------------
    def _session(self) -> Session:
        session: Session | None = getattr(self._local, "session", None)
        if session is None or session.retired:
            session = self._open_session(threading.current_thread())
            self._local.session = session
        return session

    def _open_session(self, owner: threading.Thread | None) -> Session:
        """Connect for ``owner``; connections of threads that have ended are closed."""
        if self._closed:
            raise JournalError(f"journal {self.display_url} is closed")
        try:
            connection = self._connect()
        except self.driver_error as exc:
            raise JournalError(
                f"cannot open journal {self.display_url}: {self._describe(exc)}"
            ) from exc
        session = Session(connection, owner)
        with self._sessions_lock:
            ended = [s for s in self._sessions if s.owner is not None and not s.owner.is_alive()]
            self._sessions = [s for s in self._sessions if s not in ended]
            if not self._closed:
                self._sessions.append(session)
        for stale in ended:
            self._disconnect(stale)
        if self._closed:  # close() ran while we were connecting
            self._disconnect(session)
            raise JournalError(f"journal {self.display_url} is closed")
        return session

    def _disconnect(self, session: Session) -> None:
        session.retired = True
        with suppress(self.driver_error):  # closing a broken connection is not news
            session.connection.close()

    def _retire_if_broken(self, session: Session) -> None:
        if session.depth == 0 and self._is_broken(session.connection):
            with self._sessions_lock:
                if session in self._sessions:
                    self._sessions.remove(session)
            self._disconnect(session)

    def close(self) -> None:
        """Close every thread's connection; safe to call twice."""
        self._closed = True
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            self._disconnect(session)

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One commit for everything inside; nested use joins the outer transaction.

        An exception rolls the whole (outermost) transaction back and propagates.
        """
        session = self._session()
        with session.lock:
            if session.depth:
                session.depth += 1
                try:
                    yield
                finally:
                    session.depth -= 1
                return
            self._raw(session, self.begin_statement)
            session.depth = 1
            try:
                yield
                session.depth = 0
                self._raw(session, "COMMIT")
            except BaseException:
                session.depth = 0
                with suppress(self.driver_error):  # nothing to undo, or the connection is gone
                    session.connection.execute("ROLLBACK")
                self._retire_if_broken(session)
                raise

    # -- statements --------------------------------------------------------------------
    def _raw(self, session: Session, sql: str, params: Sequence[Any] = ()) -> Any:
        translated = self._sql_cache.get(sql)
        if translated is None:
            translated = self._sql_cache[sql] = self._translate(sql)
        try:
            return session.connection.execute(translated, params)
        except self.driver_error as exc:
            raise self._failure(session, exc) from exc

    def _failure(self, session: Session, exc: Exception) -> JournalError:
        self._retire_if_broken(session)
        return JournalError(f"journal {self.display_url}: {self._describe(exc)}")

    def _run(self, action: Callable[[Session], Any]) -> Any:
        session = self._session()
        with session.lock:
            try:
                return action(session)
            except self.driver_error as exc:
                raise self._failure(session, exc) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a statement that returns rows (SELECT, or a write with RETURNING)."""
        rows: list[Row] = self._run(lambda s: self._raw(s, sql, params).fetchall())
        return rows

    def _query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def _command(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; the number of rows it touched."""
        count: int = self._run(lambda s: self._raw(s, sql, params).rowcount)
        return count

    # -- bulk copy (``filebridge journal migrate``) ------------------------------------
    # Table and column names come from the journal's own schema, never from input.
    def count_rows(self, table: str) -> int:
        row = self._query_one(f"SELECT COUNT(*) AS n FROM {table}")
        return int(row["n"]) if row else 0

    def read_page(self, table: str, key: str, after: int | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows with ``key`` above ``after`` (all from the start if None),
        in ``key`` order: a table read in pages, never whole into memory."""
        if after is None:
            return self._query(f"SELECT * FROM {table} ORDER BY {key} LIMIT ?", (limit,))
        return self._query(
            f"SELECT * FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?", (after, limit))

    def write_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                   ) -> None:
        """Insert ``rows`` as they are (ids included), in one round of the driver."""
        if not rows:
            return
        names = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        self._run(lambda s: s.connection.cursor().executemany(self._translate(sql), rows))

    def clear_table(self, table: str) -> int:
        return self._command(f"DELETE FROM {table}")

    def restart_identity(self, table: str, column: str) -> None:  # noqa: B027 - optional
        """After rows were inserted with their ids: make new ids continue above them.
        (SQLite's AUTOINCREMENT does it by itself.)"""

    # -- migrations --------------------------------------------------------------------
    def schema_version(self) -> int:
        """The highest migration recorded in ``schema_version``."""
        row = self._query_one("SELECT MAX(version) AS version FROM schema_version")
        return int(row["version"]) if row and row["version"] is not None else 0

    def _migrate(self) -> None:
        """Apply pending migrations, each in its own transaction, at most once."""
        with self.transaction():
            self._lock_schema()
            self._check_is_journal()
            self._command(SCHEMA_VERSION_DDL.format_map(self.column_types))
            current = self.schema_version()
        if current > LATEST_VERSION:
            raise JournalError(
                f"journal {self.display_url} is at schema version {current}, but this "
                f"filebridge only knows up to {LATEST_VERSION}: upgrade filebridge"
            )
        for migration in MIGRATIONS[current:]:
            with self.transaction():
                self._lock_schema()
                if self.schema_version() >= migration.version:
                    continue  # another process got there first
                try:
                    for statement in migration.statements:
                        self._command(statement.format_map(self.column_types))
                except JournalError as exc:
                    raise JournalError(
                        f"cannot migrate journal {self.display_url} to version "
                        f"{migration.version} ({migration.description}): {exc}"
                    ) from exc
                self._command(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (
                        migration.version,
                        migration.description,
                        self.codec.encode_time(datetime.now(UTC)),
                    ),
                )
