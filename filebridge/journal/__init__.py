"""The journal: the Journal port, and ``open_journal`` to get one from a URL.

    sqlite:///relative/path.db      a SQLite file (the config layer makes it absolute)
    sqlite:////absolute/path.db     a SQLite file
    sqlite:///:memory:              a private in-memory database (tests)
    postgresql://user@host/db       PostgreSQL (``postgres://`` too); needs psycopg

The PostgreSQL adapter is imported only when a URL asks for it, so the SQLite default
works without the optional driver installed.
"""

from __future__ import annotations

from filebridge.errors import JournalError
from filebridge.journal.base import Journal
from filebridge.journal.urls import POSTGRES_SCHEMES, redact_url, scheme_of, sqlite_path

__all__ = ["Journal", "JournalError", "open_journal"]


def open_journal(url: str) -> Journal:
    """Open (creating and migrating as needed) the journal that ``url`` names.

    Raises ``JournalError`` for an unknown scheme, a server that cannot be reached, a
    file that is not a journal, or a journal newer than this filebridge.
    """
    scheme = scheme_of(url)
    if scheme == "sqlite":
        path = sqlite_path(url)
        if not path:
            raise JournalError(
                f"invalid SQLite journal URL {url!r}: write sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            )
        from filebridge.journal.sqlite import SqliteJournal

        return SqliteJournal(path)
    if scheme in POSTGRES_SCHEMES:
        try:
            from filebridge.journal.postgres import PostgresJournal
        except ImportError as exc:
            raise JournalError(
                "a PostgreSQL journal needs psycopg 3: pip install 'filebridge[postgres]'"
            ) from exc
        return PostgresJournal(url)
    raise JournalError(
        f"unknown journal URL scheme {scheme or '(none)'!r} in {redact_url(url)}: "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )
