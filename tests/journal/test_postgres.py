"""What is particular to the PostgreSQL journal: several daemons, one shared database."""

from __future__ import annotations

import threading

import pytest

from filebridge.errors import JournalError
from filebridge.journal import Journal
from filebridge.journal.schema import LATEST_VERSION
from tests.journal.conftest import POSTGRES_URL, JournalDatabase, order_row


def test_daemons_starting_together_migrate_once(postgresql_database: JournalDatabase) -> None:
    # given an empty schema and six daemons starting at the same moment
    start = threading.Barrier(6)
    opened: list[Journal] = []
    errors: list[BaseException] = []

    def start_daemon() -> None:
        try:
            start.wait()
            opened.append(postgresql_database.open())
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start_daemon) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then all of them are up, and each migration ran exactly once
    assert errors == []
    assert [journal.schema_version() for journal in opened] == [LATEST_VERSION] * 6
    versions = postgresql_database.rows("SELECT version FROM schema_version ORDER BY 1")
    assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]


def test_a_schema_with_a_foreign_orders_table_is_refused_whole(
    postgresql_database: JournalDatabase,
) -> None:
    # given a schema where another application already keeps its orders
    import psycopg

    with psycopg.connect(postgresql_database.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer text)")

    # when filebridge tries to put its journal there, it says why it cannot
    with pytest.raises(JournalError, match=r"cannot migrate journal .* to version 1"):
        postgresql_database.open()

    # and leaves nothing half-made behind
    tables = postgresql_database.rows(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() ORDER BY 1"
    )
    assert tables == [("orders",), ("schema_version",)]
    assert postgresql_database.rows("SELECT version FROM schema_version") == []


def test_a_dropped_connection_fails_one_call_then_reconnects(
    postgresql_database: JournalDatabase,
) -> None:
    import psycopg

    # given a journal whose server connection is cut (a server restart, a failover)
    journal = postgresql_database.open()
    journal.insert_order(order_row("ORD-1"))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (postgresql_database.schema,),
        ).fetchall()
    assert cut == [(True,)]

    # when it is used, the call in flight fails as a JournalError
    with pytest.raises(JournalError):
        journal.get_order("ORD-1")

    # then the next call connects again and finds everything in place
    assert journal.get_order("ORD-1") is not None
    assert journal.insert_order(order_row("ORD-2")) is True
