"""Copy a whole journal into another database: ``filebridge journal migrate``.

The usual move is from the embedded SQLite file to PostgreSQL, when a second daemon is
about to join. Both ends are opened (and so migrated to this filebridge's schema) the
ordinary way; the rows are then read in pages and written with their ids, so the ids
operators have seen (``alerts ack 12``, ``log`` ids) and the references between tables
(events -> exchanges and alerts, notifications -> alerts) stay what they were.

Each column is converted through the two dialects' codecs by the kind its DDL declares
(``{ts}``, ``{blob}``, ``{json}``): the kinds are read from the migrations themselves,
so a later migration's columns are copied without touching this module.

Runtime state is not copied: claims on inbound files and daemon heartbeats belong to
the daemons running on the old journal (stop them before copying).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from filebridge.errors import JournalError
from filebridge.journal.schema import MIGRATIONS
from filebridge.journal.sql import SqlJournal

#: the tables copied, parents first, each with the key it is paged and ordered by
COPIED_TABLES: tuple[tuple[str, str], ...] = (
    ("orders", "seq"),
    ("exchanges", "id"),
    ("events", "id"),
    ("alerts", "id"),
    ("alert_orders", "id"),
    ("notifications", "id"),
)
#: emptied too by a forced copy: they describe daemons of the journal being replaced
RUNTIME_TABLES = ("inbound_claims", "daemons")
PAGE = 2000

_CREATE = re.compile(r"CREATE TABLE (\w+) \((.*)\)", re.S)
_ALTER = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+) (.*)", re.S)
_COLUMN = re.compile(r'"?(\w+)"?\s+(.+)')
_KINDS = ("ts", "blob", "json")


class JournalNotEmpty(JournalError):
    """The target journal already holds rows; copying would mix two histories."""


def _kind(declaration: str) -> str:
    return next((kind for kind in _KINDS if "{" + kind + "}" in declaration), "plain")


@cache
def column_kinds() -> dict[str, dict[str, str]]:
    """``{table: {column: kind}}`` for every table as the migrations leave it; kind is
    ``ts``, ``blob``, ``json`` or ``plain``."""
    tables: dict[str, dict[str, str]] = {}
    for migration in MIGRATIONS:
        for statement in migration.statements:
            text = statement.strip()
            if created := _CREATE.match(text):
                columns = tables.setdefault(created.group(1), {})
                for line in created.group(2).splitlines():
                    found = _COLUMN.match(line.strip().rstrip(","))
                    if found and found.group(1).upper() not in ("PRIMARY", "UNIQUE"):
                        columns[found.group(1)] = _kind(found.group(2))
            elif altered := _ALTER.match(text):
                tables.setdefault(altered.group(1), {})[altered.group(2)] = _kind(
                    altered.group(3))
    return tables


def _converter(kind: str, source: SqlJournal, target: SqlJournal) -> Callable[[Any], Any]:
    if kind == "ts":
        return lambda value: target.codec.encode_time(source.codec.decode_time(value))
    if kind == "json":
        return lambda value: target.codec.encode_document(source.codec.decode_document(value))
    if kind == "blob":
        return bytes
    return lambda value: value


def copy_journal(source: SqlJournal, target: SqlJournal, *, replace: bool = False,
                 page: int = PAGE) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``; return ``{table: rows copied}``.

    Refuses (``JournalNotEmpty``) a target that holds any row, unless ``replace``: then
    the target's rows are deleted first. All of it is one transaction on the target:
    a failure leaves the target as it was.
    """
    if source.display_url == target.display_url:
        raise JournalError("the source and the target are the same journal")
    held = {table: target.count_rows(table) for table, _ in COPIED_TABLES}
    if any(held.values()) and not replace:
        rows = ", ".join(f"{table}: {n}" for table, n in held.items() if n)
        raise JournalNotEmpty(
            f"{target.display_url} already holds a journal ({rows}); use --force to "
            "replace its contents")
    kinds = column_kinds()
    copied: dict[str, int] = {}
    with target.transaction():
        if replace:
            for table in (*RUNTIME_TABLES, *reversed([t for t, _ in COPIED_TABLES])):
                target.clear_table(table)
        for table, key in COPIED_TABLES:
            copied[table] = _copy_table(source, target, table, key, kinds[table], page)
            target.restart_identity(table, key)
    return copied


def _copy_table(source: SqlJournal, target: SqlJournal, table: str, key: str,
                kinds: dict[str, str], page: int) -> int:
    columns = list(kinds)
    convert = {name: _converter(kind, source, target) for name, kind in kinds.items()}
    after: int | None = None
    count = 0
    while rows := source.read_page(table, key, after, page):
        target.write_rows(table, columns, [
            [None if row[name] is None else convert[name](row[name]) for name in columns]
            for row in rows])
        count += len(rows)
        after = int(rows[-1][key])
    return count
