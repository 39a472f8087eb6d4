"""Journal fixtures: one database per test, on SQLite and on a real PostgreSQL.

``database`` is parametrized over both dialects, so every test written against it runs
twice. A test opens as many journals (each with its own connections) on that database as
it needs with ``database.open()``; all are closed, and a PostgreSQL schema dropped, after
the test. PostgreSQL is found at ``$FILEBRIDGE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``): missing, its tests skip locally and fail
in CI.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from filebridge.journal import Journal, open_journal
from filebridge.model import OrderRow, OrderState
from tests.factories import T0, make_order
from tests.support import require

POSTGRES_URL = os.environ.get(
    "FILEBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@dataclass
class JournalDatabase:
    """One empty database for one test, and every journal the test opened on it."""

    dialect: str
    url: str
    sqlite_file: Path | None = None
    schema: str | None = None  # PostgreSQL: the schema (and application_name) of this test
    opened: list[Journal] = field(default_factory=list)

    def open(self) -> Journal:
        journal = open_journal(self.url)
        self.opened.append(journal)
        return journal

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the database with the driver directly, past the journal."""
        if self.sqlite_file is not None:
            with sqlite3.connect(self.sqlite_file) as connection:
                return list(connection.execute(sql).fetchall())
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return list(connection.execute(sql).fetchall())

    def close_all(self) -> None:
        for journal in self.opened:
            journal.close()


def postgres_reachable() -> tuple[bool, str]:
    try:
        import psycopg
    except ImportError:
        return False, "psycopg is not installed"
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True, ""
    except psycopg.Error as exc:
        return False, f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URL, after checking it answers (skip locally, fail in CI)."""
    ok, reason = postgres_reachable()
    require(ok, reason)
    return POSTGRES_URL


def with_search_path(url: str, schema: str) -> str:
    """``url`` working in ``schema``; its connections are named after it, too."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-c%20search_path%3D{schema}&application_name={schema}"


@pytest.fixture
def postgresql_database(postgres_server: str) -> Iterator[JournalDatabase]:
    """A fresh schema on the real server, dropped after the test."""
    import psycopg

    schema = f"fb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    database = JournalDatabase(
        "postgresql", with_search_path(postgres_server, schema), schema=schema
    )
    try:
        yield database
    finally:
        database.close_all()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[JournalDatabase]:
    path = tmp_path / "state" / "filebridge.db"
    database = JournalDatabase("sqlite", f"sqlite:///{path}", sqlite_file=path)
    try:
        yield database
    finally:
        database.close_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> JournalDatabase:
    db: JournalDatabase = request.getfixturevalue(f"{request.param}_database")
    return db


@pytest.fixture
def journal(database: JournalDatabase) -> Journal:
    return database.open()


def order_row(
    order_id: str,
    partner: str = "retura",
    state: OrderState = OrderState.QUEUED,
    created: timedelta = timedelta(0),
    **fields: Any,
) -> OrderRow:
    """A journal row for a fresh valid order, created ``created`` after T0."""
    at = T0 + created
    return OrderRow(
        order_id=order_id,
        partner=partner,
        state=state,
        order=make_order(order_id),
        created_at=at,
        updated_at=at,
        **fields,
    )
