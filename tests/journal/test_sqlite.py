"""What is particular to the SQLite journal: its file, and files that are not journals."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from filebridge.errors import JournalError
from filebridge.journal import open_journal
from filebridge.journal.schema import LATEST_VERSION
from tests.journal.conftest import order_row


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_journal_file_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    # given a journal in a folder that does not exist yet
    path = tmp_path / "var" / "lib" / "filebridge.db"
    # when it is opened and written
    journal = open_journal(f"sqlite:///{path}")
    try:
        journal.insert_order(order_row("ORD-1"))
        # then the database and its WAL companions are readable by the owner only
        companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert {p.name: mode(p) for p in [path, *companions]} == {
            p.name: 0o600 for p in [path, *companions]
        }
        assert mode(path.parent) == 0o700
    finally:
        journal.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)

    with pytest.raises(JournalError, match="not a database"):
        open_journal(f"sqlite:///{path}")

    assert path.read_text().startswith("these are my notes")


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    connection.close()

    with pytest.raises(JournalError, match=r"not a filebridge journal.*customers"):
        open_journal(f"sqlite:///{path}")

    with sqlite3.connect(path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    connection.close()
    assert tables == [("customers",)]


def test_a_journal_from_a_newer_filebridge_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "filebridge.db"
    open_journal(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01')",
            (LATEST_VERSION + 1,),
        )
    connection.close()

    with pytest.raises(JournalError, match="upgrade filebridge"):
        open_journal(f"sqlite:///{path}")


def test_memory_journal_is_one_database_for_every_thread() -> None:
    journal = open_journal("sqlite:///:memory:")
    try:
        writer = threading.Thread(target=journal.insert_order, args=(order_row("ORD-1"),))
        writer.start()
        writer.join()
        assert journal.get_order("ORD-1") is not None
    finally:
        journal.close()


def test_a_closed_journal_says_so_on_every_thread(tmp_path: Path) -> None:
    journal = open_journal(f"sqlite:///{tmp_path / 'filebridge.db'}")
    journal.insert_order(order_row("ORD-1"))
    journal.close()
    raised: list[BaseException] = []

    def read() -> None:
        try:
            journal.get_order("ORD-1")
        except BaseException as exc:  # checked below, on the test's thread
            raised.append(exc)

    read()
    other = threading.Thread(target=read)  # a thread that never had a connection
    other.start()
    other.join()

    assert len(raised) == 2
    assert all(isinstance(exc, JournalError) and "closed" in str(exc) for exc in raised)
