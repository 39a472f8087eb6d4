"""Choosing a journal by URL, and what an operator sees when the URL is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from filebridge.errors import JournalError
from filebridge.journal import open_journal
from filebridge.journal.urls import redact_url
from tests.journal.conftest import order_row
from tests.support import free_port


def test_an_unknown_scheme_is_named_without_its_password() -> None:
    with pytest.raises(JournalError) as caught:
        open_journal("mysql://bridge:s3cret@db.example/filebridge")
    message = str(caught.value)
    assert "'mysql'" in message and "postgresql://" in message
    assert "s3cret" not in message


@pytest.mark.parametrize("url", ["sqlite://filebridge.db", "sqlite:///", "filebridge.db"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(JournalError):
        open_journal(url)


def test_a_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    journal = open_journal("sqlite:///state/filebridge.db")
    try:
        journal.insert_order(order_row("ORD-1"))
    finally:
        journal.close()
    assert (tmp_path / "state" / "filebridge.db").is_file()
    reopened = open_journal(f"sqlite:///{tmp_path / 'state' / 'filebridge.db'}")
    try:
        assert reopened.get_order("ORD-1") is not None
    finally:
        reopened.close()


def test_an_unreachable_server_fails_clearly_and_hides_the_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://bridge:s3cret@127.0.0.1:{free_port()}/filebridge?connect_timeout=3"

    with pytest.raises(JournalError) as caught:
        open_journal(url)

    message = str(caught.value)
    assert "cannot open journal postgresql://bridge:***@127.0.0.1" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bridge:s3cret@db/fb", "postgresql://bridge:***@db/fb"),
        ("postgresql://bridge@db/fb?password=s3cret&sslmode=require",
         "postgresql://bridge@db/fb?password=***&sslmode=require"),
        ("postgresql://bridge@db/fb", "postgresql://bridge@db/fb"),
        ("sqlite:////var/lib/filebridge.db", "sqlite:////var/lib/filebridge.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
