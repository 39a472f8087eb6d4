"""Invalid values for every value type, and helpers that plant one into a valid file.

The base documents carry every optional field, so every element and column can be made
invalid. Values hold only characters XML can carry, so the same bad value can be tried in
both formats and against an independent XSD validator.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from hypothesis import strategies as st
from lxml import etree

from filebridge.formats.csv import escape
from filebridge.formats.csv_spec import ColumnSpec, columns
from filebridge.formats.layout import Node, layout
from filebridge.formats.schema_files import xsd_path
from filebridge.model import XML_NAMESPACE, Document
from filebridge.model import values as v
from tests.factories import make_ack, make_order, make_result

XMLLINT = shutil.which("xmllint")

_ORDER = make_order()
FULL_DOCUMENTS: dict[str, Document] = {
    "order": _ORDER,
    "ack": make_ack(_ORDER, reason_code="LATE", reason_text="Planned a day later."),
    "result": make_result(_ORDER, partner_reference="RET-889", deviation_code="EXTRA",
                          deviation_text="Also took a sack beside the container."),
}

_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"),
                           blacklist_characters="\ufffe\uffff")
_C1 = st.characters(min_codepoint=0x7F, max_codepoint=0x9F)


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(_PRINTABLE, min_size=min_size, max_size=max_size)


def _with(inserted: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(_text(0, 5), inserted, _text(0, 5)).map("".join)


def _not_matching(pattern: str) -> st.SearchStrategy[str]:
    return _text(1, 20).filter(lambda s: not re.fullmatch(pattern, s))


def _decimal_text(value: float | str) -> str:
    return format(value, "f") if not isinstance(value, str) else value


INVALID: dict[str, st.SearchStrategy[str]] = {
    "SafeId": st.one_of(
        st.from_regex(r"\.[A-Za-z0-9]{0,10}", fullmatch=True),
        _with(st.sampled_from(list(" /:*?<>|\\æ\u00a0"))),
        st.from_regex(r"[A-Za-z0-9]{65,70}", fullmatch=True),
    ),
    "OtherId": st.one_of(st.just(""), _text(65, 70), _with(_C1), _with(st.just("\n"))),
    "ShortText": st.one_of(st.just(""), _text(201, 210), _with(_C1), _with(st.just("\t"))),
    "FreeText": st.one_of(st.just(""), _text(1001, 1005), _with(_C1)),
    "Sequence": st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["1.0", "one", ""])),
    "Quantity": st.one_of(st.integers(max_value=0), st.integers(min_value=100)).map(str),
    "Kilograms": st.one_of(
        st.decimals(max_value=-0.001, places=3, allow_nan=False).map(_decimal_text),
        st.decimals(min_value=0, max_value=1000, places=5, allow_nan=False)
        .filter(lambda d: d != d.quantize(v.Decimal("0.001"))).map(_decimal_text),
        st.integers(10**9, 10**11).map(str),
        st.sampled_from(["12,5", "1e3", "NaN", "INF", ""]),
    ),
    "Latitude": st.one_of(
        st.decimals(min_value=90.0000001, max_value=1000, places=7, allow_nan=False)
        .map(_decimal_text),
        st.sampled_from(["-90.1", "59.91390001", "N59", ""]),
    ),
    "Longitude": st.one_of(
        st.decimals(max_value=-180.0000001, min_value=-1000, places=7, allow_nan=False)
        .map(_decimal_text),
        st.sampled_from(["180.1", "10.75220001", "E10", ""]),
    ),
    "CountryCode": st.one_of(
        st.from_regex(r"[A-Z]{2}", fullmatch=True).filter(lambda c: c not in v.ISO_COUNTRY_CODES),
        st.sampled_from(["no", "NOR", "N", ""]),
    ),
    "EwcCode": st.one_of(
        st.from_regex(r"[0-9]{2} [0-9]{2} [0-9]", fullmatch=True),
        st.from_regex(r"[0-9]{6}\*?", fullmatch=True),
        st.sampled_from(["20 03 01**", "20-03-01", ""]),
    ),
    "Phone": st.one_of(st.from_regex(r"[a-z]{3,10}", fullmatch=True),
                       st.sampled_from(["+", "12", "1" * 40, "+47 22 33 44 55 ext 3"])),
    "PostalCode": st.one_of(st.from_regex(r"-[0-9]{4}", fullmatch=True),
                            st.from_regex(r"[0-9]{17,20}", fullmatch=True),
                            st.sampled_from(["", "0155!"])),
    "TypeCode": st.one_of(st.from_regex(r"\.[A-Z0-9]{1,5}", fullmatch=True),
                          st.from_regex(r"[A-Z]{2} [A-Z]{2}", fullmatch=True),
                          st.just("X" * 33)),
    "Timestamp": st.one_of(
        st.datetimes(min_value=datetime(1900, 1, 1)).map(lambda d: d.isoformat()),
        st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.isoformat()),
        st.sampled_from(["2026-11-28T10:00:00+15:00", "2026-11-28 10:00:00Z",
                         "2026-02-30T10:00:00Z", "2026-11-28T24:00:00Z", "28.11.2026 10:00"]),
    ),
    "Date": st.one_of(
        st.datetimes(min_value=datetime(1900, 1, 1)).map(lambda d: d.isoformat()),
        st.sampled_from(["2026-02-30", "2026-11-28Z", "28.11.2026", ""]),
    ),
    "Boolean": st.sampled_from(["yes", "no", "TRUE", "False", "2", ""]),
    "Action": _not_matching("deliver|empty|retrieve|swap"),
    "AckStatus": _not_matching("accepted|rejected"),
    "Outcome": _not_matching("completed|not_completed"),
}


@dataclass(frozen=True)
class Leaf:
    """One value of a full document: its element path, its CSV column, its type."""

    kind: str  # "order" | "ack" | "result"
    element: str  # "Container/Quantity", "Weighings/Weighing[1]/Kg"
    column: str
    type_name: str
    required: bool  # in every row of a CSV file
    part: str | None = None  # the part of a list item (weighings: "kg")


def leaves() -> list[Leaf]:
    found: list[Leaf] = []
    for kind, document in FULL_DOCUMENTS.items():
        by_path = {spec.path: spec for spec in columns(type(document))}
        found.extend(_leaves(kind, layout(type(document)), "", (), by_path))
    return found


def _leaves(kind: str, nodes: tuple[Node, ...], prefix: str, path: tuple[str, ...],
            by_path: dict[tuple[str, ...], ColumnSpec]) -> Iterator[Leaf]:
    for node in nodes:
        element = prefix + node.element
        node_path = (*path, node.name)
        if node.is_list:
            item = f"{element}/{node.item_element}[1]"
            column = by_path[node_path]
            if node.value is not None:
                yield Leaf(kind, item, column.name, node.value.name, column.required)
            for part in node.parts:
                assert part.value is not None
                yield Leaf(kind, f"{item}/{part.element}", column.name, part.value.name,
                           column.required, part=part.name)
        elif node.value is None:
            yield from _leaves(kind, node.parts, element + "/", node_path, by_path)
        else:
            column = by_path[node_path]
            yield Leaf(kind, element, column.name, node.value.name, column.required)


def xml_with(leaf: Leaf, text: str) -> bytes:
    """The full document of ``leaf.kind`` as XML, with ``text`` in the leaf's element."""
    root = etree.fromstring(FULL_DOCUMENTS[leaf.kind].to_xml())
    xpath = "/".join(f"f:{step}" for step in leaf.element.split("/"))
    (element,) = root.xpath(f"./{xpath}", namespaces={"f": XML_NAMESPACE})
    element.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def csv_with(leaf: Leaf, text: str, delimiter: str = ",") -> bytes:
    """The full document of ``leaf.kind`` as CSV, with ``text`` in the leaf's cell (for a
    list: as its only item, escaped as a list item's value)."""
    document = FULL_DOCUMENTS[leaf.kind]
    rows = list(csv.reader(io.StringIO(document.to_csv(delimiter).decode(), newline=""),
                           delimiter=delimiter))
    index = rows[0].index(leaf.column)
    if leaf.element.endswith("]") or leaf.part:  # one item of a list cell
        text = escape(text)
    if leaf.part == "kg":
        text = f"MIXED:{text}"
    elif leaf.part == "fraction_code":
        text = f"{text}:84.25"
    rows[1][index] = text
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def xmllint_verdicts(files: dict[Path, type[Document]]) -> dict[Path, bool]:
    """Whether xmllint finds each file valid against its document type's XSD."""
    assert XMLLINT is not None
    verdicts: dict[Path, bool] = {}
    by_schema: dict[Path, list[Path]] = {}
    for path, kind in files.items():
        by_schema.setdefault(xsd_path(kind), []).append(path)
    for schema, paths in by_schema.items():
        result = subprocess.run(
            [XMLLINT, "--noout", "--nonet", "--schema", str(schema), *map(str, paths)],
            capture_output=True, text=True, check=False,
        )
        for path in paths:
            if f"{path} validates" in result.stderr:
                verdicts[path] = True
            elif f"{path} fails to validate" in result.stderr:
                verdicts[path] = False
            else:
                verdicts[path] = False  # not even parsed
    return verdicts

