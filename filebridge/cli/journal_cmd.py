"""``filebridge journal migrate``: copy a journal to another database.

    filebridge journal migrate --from sqlite:///filebridge.db \\
        --to 'postgresql://filebridge@db.example/filebridge'

Stop the daemons first, copy, point ``[journal] url`` at the target, start them again.
Every table is copied with its ids; a target that already holds a journal is refused
unless ``--force`` (which replaces its contents). Relative SQLite paths are relative to
the current folder. The source is opened like any journal, so an older one is brought
to this filebridge's schema on the way.
"""

from __future__ import annotations

from pathlib import Path

import click

from filebridge.cli.context import console, print_json
from filebridge.cli.render import plain
from filebridge.errors import ConfigError
from filebridge.journal import open_journal
from filebridge.journal.base import Journal
from filebridge.journal.sql import SqlJournal
from filebridge.journal.transfer import copy_journal
from filebridge.journal.urls import redact_url, scheme_of, sqlite_path


@click.group("journal")
def journal() -> None:
    """Journal maintenance: copy a journal to another database."""


@journal.command("migrate")
@click.option("--from", "source_url", required=True, metavar="URL",
              help="The journal to copy (sqlite:///PATH or postgresql://...).")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="Where to copy it; must hold no journal rows unless --force.")
@click.option("--force", is_flag=True, help="Replace whatever the target holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def migrate(source_url: str, target_url: str, force: bool, as_json: bool) -> None:
    """Copy every order, exchange, event, alert and notification, keeping their ids."""
    if scheme_of(source_url) == "sqlite" and sqlite_path(source_url) != ":memory:":
        path = Path(sqlite_path(source_url))
        if not path.is_file():
            raise ConfigError(f"--from: no journal file at {path}")
    source = _open(source_url)
    try:
        target = _open(target_url)
        try:
            counts = copy_journal(source, target, replace=force)
        finally:
            target.close()
    finally:
        source.close()
    if as_json:
        print_json({"from": redact_url(source_url), "to": redact_url(target_url),
                    "copied": counts})
        return
    out = console()
    out.print(plain(f"Copied {redact_url(source_url)} -> {redact_url(target_url)}"))
    for table, count in counts.items():
        out.print(plain(f"  {table:<14} {count:>8}"))
    out.print(plain("Point [journal] url at the new journal, then start the daemons."))


def _open(url: str) -> SqlJournal:
    opened: Journal = open_journal(url)
    if not isinstance(opened, SqlJournal):  # every journal today; a guard for the future
        opened.close()
        raise ConfigError(f"cannot copy a journal of this kind: {redact_url(url)}")
    return opened
