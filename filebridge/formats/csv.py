"""The CSV wire format: one document per row, columns as published in ``schemas/*.csv.json``.

Reading is all or nothing: every row of the file is checked (header, each cell against its
column's pattern, then the pydantic model) and if anything is wrong the whole file is
refused with every problem, each with its line and column. Writing always puts out every
column, validates each document against the same XSD as the XML format (so both formats
refuse exactly the same values), and guards free-text cells against spreadsheet formula
injection; the guard is undone on reading so that a document survives the round trip
unchanged (the exact rule is ``FILE_RULES["formula_guard"]`` in ``csv_spec``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from filebridge.errors import HostileDocument, InvalidDocument, Problem
from filebridge.formats.base import DEFAULT_MAX_SIZE, Codec
from filebridge.formats.csv_spec import (
    ESCAPE,
    FORMULA_GUARD,
    FORMULA_TRIGGERS,
    LIST_SEPARATOR,
    PART_SEPARATOR,
    ColumnSpec,
    ValueSpec,
    columns,
)
from filebridge.formats.encoding import decode_utf8
from filebridge.formats.layout import COLLAPSED_KINDS, leaf_paths, to_text
from filebridge.formats.problems import model_errors, shown
from filebridge.formats.xml import build_tree, check_schema
from filebridge.model import DOCUMENT_TYPES, Document

DELIMITERS = (",", ";", "\t", "|")


class CsvCodec(Codec):
    """CSV files with a header row; ``delimiter`` is the partner's ``csv_delimiter``."""

    extension = "csv"

    def __init__(self, delimiter: str = ",", max_size: int = DEFAULT_MAX_SIZE) -> None:
        if len(delimiter) != 1 or delimiter in ('"', "\r", "\n", ESCAPE, PART_SEPARATOR):
            raise ValueError(f"unusable CSV delimiter {delimiter!r}")
        self.delimiter = delimiter
        self.max_size = max_size

    def encode(self, documents: Sequence[Document]) -> bytes:
        if not documents:
            raise ValueError("a CSV file needs at least one document")
        kind = type(documents[0])
        if any(type(document) is not kind for document in documents):
            raise ValueError("a CSV file holds one document type only")
        problems = [p for d in documents for p in check_schema(kind, build_tree(d)).problems]
        if problems:
            raise InvalidDocument(f"{kind.__name__} would not be a valid CSV row", problems)
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n")
        specs = columns(kind)
        writer.writerow([spec.name for spec in specs])
        for document in documents:
            writer.writerow([_cell(spec, document) for spec in specs])
        return out.getvalue().encode("utf-8")

    def decode(self, data: bytes) -> list[Document]:
        if len(data) > self.max_size:
            raise HostileDocument(
                f"refused unread: the file is {len(data)} bytes, "
                f"over the limit of {self.max_size} bytes"
            )
        rows = list(_rows(decode_utf8(data), self.delimiter))
        if not rows:
            raise InvalidDocument("empty CSV file", [Problem("a header row is required", line=1)])
        header_line, header = rows[0]
        kind, problems = read_header(header, header_line, self.delimiter)
        if kind is None:
            raise InvalidDocument("unknown CSV header", problems)
        if len(rows) == 1:
            problems.append(Problem("the file has a header but no rows", line=header_line))
        if problems:
            raise InvalidDocument(f"{kind.kind} CSV is not valid", problems)
        specs = [_spec_named(kind, name.strip()) for name in header]
        documents: list[Document] = []
        for line, row in rows[1:]:
            document = _read_row(kind, specs, row, line, problems)
            if document is not None:
                documents.append(document)
        if problems:
            raise InvalidDocument(f"{kind.kind} CSV is not valid", problems)
        return documents


def document_for_header(names: Sequence[str]) -> type[Document] | None:
    """The document type a header row belongs to, or None when it fits none or several."""
    given = {name.strip() for name in names}
    scored = []
    for kind in DOCUMENT_TYPES:
        known = {spec.name for spec in columns(kind)}
        required = {spec.name for spec in columns(kind) if spec.required}
        score = (len(given & known) - len(given - known), len(given & required))
        scored.append((score, kind))
    scored.sort(key=lambda item: item[0], reverse=True)
    best, runner_up = scored[0], scored[1]
    if best[0][0] <= 0 or best[0] == runner_up[0]:
        return None
    return best[1]


def read_header(
    header: list[str], line: int, delimiter: str
) -> tuple[type[Document] | None, list[Problem]]:
    """The header's document type and every problem with its columns."""
    names = [name.strip() for name in header]
    kind = document_for_header(names)
    if kind is None:
        message = "the header does not name the columns of an order, ack or result"
        others = [d for d in DELIMITERS if d != delimiter and len(names) == 1 and d in names[0]]
        if others:
            message += f" (it seems to use {others[0]!r} as delimiter, not {delimiter!r})"
        return None, [Problem(message, line=line)]
    problems: list[Problem] = []
    known = {spec.name for spec in columns(kind)}
    seen: set[str] = set()
    for name in names:
        if name not in known:
            problems.append(Problem(f"unknown column for a {kind.kind} file", field=name or "''",
                                    line=line))
        elif name in seen:
            problems.append(Problem("column appears twice", field=name, line=line))
        seen.add(name)
    for spec in columns(kind):
        if spec.required and spec.name not in seen:
            problems.append(Problem("required column is missing", field=spec.name, line=line))
    return kind, problems


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on; a broken quote is an InvalidDocument."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidDocument("not a readable CSV file",
                                  [Problem(str(exc), line=reader.line_num or start)]) from None
        if any(cell for cell in row):
            yield start, row


def _spec_named(kind: type[Document], name: str) -> ColumnSpec:
    return next(spec for spec in columns(kind) if spec.name == name)


def _read_row(
    kind: type[Document], specs: list[ColumnSpec], row: list[str], line: int,
    problems: list[Problem],
) -> Document | None:
    if len(row) != len(specs):
        problems.append(Problem(f"the row has {len(row)} cells, the header {len(specs)}",
                                line=line))
        return None
    data: dict[str, Any] = {}
    covered: set[str] = set()
    for spec, cell in zip(specs, row, strict=True):
        if cell == "":
            continue
        text = unguard(cell) if spec.free_text else cell
        value, found = _read_list(spec, text) if spec.is_list else _read_value(spec.value, text)
        for message in found:
            problems.append(Problem(message, field=spec.name, line=line))
            covered.add(spec.name)
        _put(data, spec.path, value)
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        for error in model_errors(exc, leaf_paths(kind)):
            field, where = _column_of(kind, error.loc)
            if field not in covered:
                problems.append(Problem(where + error.message, field=field, line=line))
        return None


def _read_value(spec: ValueSpec | None, text: str) -> tuple[str, list[str]]:
    assert spec is not None
    if spec.type in COLLAPSED_KINDS:
        text = text.strip()
    problem = _check(spec, text)
    return text, [problem] if problem else []


def _check(spec: ValueSpec, text: str) -> str | None:
    if spec.enum is not None and text not in spec.enum:
        if len(spec.enum) > 12:
            return f"{shown(text)} is not one of the {len(spec.enum)} values listed in the spec"
        return f"{shown(text)} is not one of: {', '.join(spec.enum)}"
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        if spec.type == "string":
            return f"{shown(text)} does not match the pattern {spec.pattern}"
        hint = " (use '.' as the decimal mark)" if spec.type == "decimal" and "," in text else ""
        return f"{shown(text)} is not a valid {spec.type}{hint}"
    return None


def _read_list(spec: ColumnSpec, text: str) -> tuple[list[Any], list[str]]:
    items: list[Any] = []
    found: list[str] = []
    for number, raw in enumerate(split_list(text), start=1):
        if raw == "":
            found.append(f"item {number} is empty")
            continue
        if not spec.item_is_group:
            value, problems = _read_value(spec.items[0], raw)
            items.append(value)
            found.extend(f"item {number}: {p}" for p in problems)
            continue
        parts = raw.rsplit(PART_SEPARATOR, len(spec.items) - 1)
        if len(parts) != len(spec.items):
            layout_ = PART_SEPARATOR.join(part.name.upper() for part in spec.items)
            found.append(f"item {number} ({shown(raw)}) is not {layout_}")
            continue
        item: dict[str, Any] = {}
        for part_spec, part in zip(spec.items, parts, strict=True):
            value, problems = _read_value(part_spec, part)
            item[part_spec.path[0]] = value
            found.extend(f"item {number} ({part_spec.name}): {p}" for p in problems)
        items.append(item)
    return items, found


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        data = data.setdefault(name, {})
    data[path[-1]] = value


def _column_of(kind: type[Document], loc: tuple[str | int, ...]) -> tuple[str | None, str]:
    """The column a model error belongs to, and a prefix naming the list item if any."""
    specs = columns(kind)
    for spec in specs:
        if tuple(loc[: len(spec.path)]) == spec.path:
            rest = loc[len(spec.path) :]
            if rest and isinstance(rest[0], int):
                part = f" ({rest[1]})" if len(rest) > 1 else ""
                return spec.name, f"item {rest[0] + 1}{part}: "
            return spec.name, ""
    group = [spec.name for spec in specs if spec.path[: len(loc)] == tuple(loc)] if loc else []
    if 0 < len(group) <= 3:
        return ", ".join(group), ""
    return ("_".join(str(part) for part in loc) or None), ""


# ---- cells ---------------------------------------------------------------------------


def _cell(spec: ColumnSpec, document: Document) -> str:
    value: Any = document
    for name in spec.path:
        value = getattr(value, name) if value is not None else None
    if value is None:
        return ""
    if not spec.is_list:
        text = to_text(value)
    elif spec.item_is_group:
        text = LIST_SEPARATOR.join(_item_text(spec.items, item) for item in value)
    else:
        text = LIST_SEPARATOR.join(escape(to_text(item)) for item in value)
    return guard(text) if spec.free_text else text


def _item_text(parts: Sequence[ValueSpec], item: BaseModel) -> str:
    return PART_SEPARATOR.join(escape(to_text(getattr(item, part.path[0]))) for part in parts)


def escape(value: str) -> str:
    """A value inside a list cell: ``\\`` and ``|`` escaped with a backslash."""
    return value.replace(ESCAPE, ESCAPE * 2).replace(LIST_SEPARATOR, ESCAPE + LIST_SEPARATOR)


def split_list(text: str) -> list[str]:
    """Split a list cell on unescaped ``|`` and undo the escapes; an unknown escape such as
    ``\\x`` is kept as written."""
    items: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        following = text[position + 1 : position + 2]
        if char == ESCAPE and following in (ESCAPE, LIST_SEPARATOR):
            current.append(following)
            position += 2
            continue
        if char == LIST_SEPARATOR:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        position += 1
    items.append("".join(current))
    return items


def _looks_guarded(text: str) -> bool:
    return text.startswith(FORMULA_GUARD) and text[1:2] != "" and (
        text[1] in FORMULA_TRIGGERS or text[1] == FORMULA_GUARD
    )


def guard(text: str) -> str:
    """Neutralise a free-text cell a spreadsheet would run as a formula (``=SUM(..)`` ->
    ``'=SUM(..)``); values that already look guarded get one more ``'`` so that
    ``unguard`` restores every value exactly."""
    if text.startswith(FORMULA_TRIGGERS) or _looks_guarded(text):
        return FORMULA_GUARD + text
    return text


def unguard(text: str) -> str:
    """Undo ``guard``: drop one leading ``'`` when a trigger character or ``'`` follows."""
    return text[1:] if _looks_guarded(text) else text
