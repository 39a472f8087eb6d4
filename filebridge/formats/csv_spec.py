"""The CSV column specs (``schemas/<kind>.csv.json``): generated from the models, read by
the CSV codec.

A column's name is the snake_case of its element path with the groups as prefixes
(``site_postal_code``, ``container_fraction_ewc_code``), except where a field's name
already begins with its group's name (``customer_id``, ``site_id``, ``container_id``).
Lists are one column each (``weighings``: ``FRACTION:KG|FRACTION:KG``; ``container_ids``:
``ID|ID``). Descriptions come from the XSD documentation, so both formats are described
in the same words.

Regenerate the published files after changing a model or a schema's documentation:
``python -m filebridge.formats.csv_spec`` (a test fails while they are out of date).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from filebridge.formats.layout import Node, ValueType, layout
from filebridge.formats.schema_files import csv_spec, csv_spec_path, xsd_path
from filebridge.formats.xsd_outline import outline
from filebridge.model import DOCUMENT_TYPES, XML_NAMESPACE, Document
from filebridge.model.values import ISO_COUNTRY_CODES

LIST_SEPARATOR = "|"
PART_SEPARATOR = ":"
ESCAPE = "\\"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"

FILE_RULES = {
    "encoding": "UTF-8; a byte order mark at the start is accepted on input",
    "header": "the first row names the columns; every required column must be there, "
    "unknown columns are refused, optional columns may be left out; filebridge always "
    "writes every column",
    "delimiter": "',' unless agreed otherwise per partner (';' is common in Norway); "
    "cells holding the delimiter, a quote or a line break are quoted with '\"', "
    "a quote inside is doubled",
    "rows": "one document per row; a file holds one document type, told by its header; "
    "if any row is invalid the whole file is refused and no row is applied; "
    "blank lines are skipped",
    "empty": "an empty cell means the field is absent",
    "decimal_mark": "'.'; numbers have no thousands separator",
    "lists": "list items are separated by '|'; inside an item, a '|' or '\\' that belongs "
    "to a value is written as '\\|' or '\\\\'; the parts of an item are separated by "
    "':' (only the first part may itself contain ':')",
    "formula_guard": "a free-text cell (free_text: true) whose value starts with = + - @ "
    "tab or carriage return, or with ' followed by one of those or by another ', is "
    "written with one extra ' in front; on reading, one leading ' is removed from a "
    "free-text cell when it is followed by one of those characters or by another '",
}


@dataclass(frozen=True)
class ValueSpec:
    """The rules for one value in a cell (a whole cell, or one part of a list item)."""

    name: str
    path: tuple[str, ...]  # relative to the document, or to the list item
    type: str
    pattern: str | None
    enum: tuple[str, ...] | None


@dataclass(frozen=True)
class ColumnSpec:
    """One CSV column as the codec reads it from the published spec."""

    name: str
    path: tuple[str, ...]
    required: bool
    free_text: bool
    value: ValueSpec | None  # a plain cell
    items: tuple[ValueSpec, ...] = ()  # a list cell: the parts of each item
    item_is_group: bool = False

    @property
    def is_list(self) -> bool:
        return self.value is None


@cache
def columns(document: type[Document]) -> tuple[ColumnSpec, ...]:
    """The columns of a document type, from its published spec file."""
    return tuple(_column(entry) for entry in csv_spec(document)["columns"])


def _value_spec(entry: dict[str, Any]) -> ValueSpec:
    path = tuple(entry["path"].split(".")) if entry.get("path") else ()
    enum = tuple(entry["enum"]) if "enum" in entry else None
    return ValueSpec(entry["name"], path, entry["type"], entry.get("pattern"), enum)


def _column(entry: dict[str, Any]) -> ColumnSpec:
    path = tuple(entry["path"].split("."))
    if entry["type"] == "list":
        items = tuple(_value_spec(item) for item in entry["items"])
        return ColumnSpec(entry["name"], path, entry["required"], entry["free_text"], None,
                          items, item_is_group=bool(items and items[0].path))
    return ColumnSpec(entry["name"], path, entry["required"], entry["free_text"],
                      _value_spec(entry))


# ---- generating the published files from the models -------------------------------


def build_spec(document: type[Document]) -> dict[str, Any]:
    """The spec of a document type as the models and the XSD documentation define it."""
    docs = {element.path: element.documentation for element in outline(document)}
    found: list[dict[str, Any]] = []
    _walk(layout(document), [], (), "", True, docs, found)
    return {
        "document": document.kind,
        "root_element": document.root_element,
        "namespace": XML_NAMESPACE,
        "xml_schema": xsd_path(document).name,
        "description": docs.get(document.root_element, ""),
        "file": FILE_RULES,
        "columns": found,
    }


def _walk(
    nodes: tuple[Node, ...],
    prefix: list[str],
    path: tuple[str, ...],
    element_prefix: str,
    required: bool,
    docs: dict[str, str],
    found: list[dict[str, Any]],
) -> None:
    for node in nodes:
        element = element_prefix + node.element
        node_path = (*path, node.name)
        if node.is_group:
            _walk(node.parts, [*prefix, node.name], node_path, element + "/",
                  required and node.required, docs, found)
            continue
        if prefix and node.name.startswith(prefix[-1] + "_"):
            name = "_".join([*prefix[:-1], node.name])
        else:
            name = "_".join([*prefix, node.name])
        entry: dict[str, Any] = {
            "name": name,
            "path": ".".join(node_path),
            "element": element,
            "required": required and node.required,
        }
        if not required and node.required:
            entry["required_with_group"] = ".".join(path)
        if node.is_list:
            entry.update(_list_entry(node, element, docs))
        else:
            assert node.value is not None
            entry.update(_value_entry(node.value))
            entry["free_text"] = node.value.is_free_text
        entry["description"] = docs.get(element, "")
        found.append(entry)


def _list_entry(node: Node, element: str, docs: dict[str, str]) -> dict[str, Any]:
    item_element = f"{element}/{node.item_element}"
    if node.value is not None:
        item_name = node.name.removesuffix("s")
        items = [{"name": item_name, "path": None, **_value_entry(node.value),
                  "description": docs.get(item_element, "")}]
        first_free = node.value.is_free_text
    else:
        items = []
        for part in node.parts:
            assert part.value is not None
            items.append({"name": part.name, "path": part.name, **_value_entry(part.value),
                          "description": docs.get(f"{item_element}/{part.element}", "")})
        first = node.parts[0].value
        first_free = first is not None and first.is_free_text
    return {
        "type": "list",
        "separator": LIST_SEPARATOR,
        "item_format": PART_SEPARATOR.join(item["name"].upper() for item in items),
        "items": items,
        "free_text": first_free,
    }


def _value_entry(value: ValueType) -> dict[str, Any]:
    constraints = value.constraints
    entry: dict[str, Any] = {
        "type": "string" if value.kind == "enum" else value.kind,
        "xsd_type": "xs:boolean" if value.name == "Boolean" else value.name,
    }
    if value.lexical:
        entry["pattern"] = value.lexical
    if value.kind == "enum":
        entry["enum"] = list(value.choices)
    if value.name == "CountryCode":
        entry["enum"] = sorted(ISO_COUNTRY_CODES)
    for key, label in (("min_length", "min_length"), ("max_length", "max_length"),
                       ("ge", "minimum"), ("le", "maximum"),
                       ("max_digits", "max_digits"), ("decimal_places", "max_decimals")):
        if key in constraints:
            entry[label] = _plain(constraints[key])
    if "max_digits" in constraints and "decimal_places" in constraints:
        entry["max_whole_digits"] = constraints["max_digits"] - constraints["decimal_places"]
    return entry


def _plain(value: object) -> object:
    return value if isinstance(value, int | str) else str(value)


def render_spec(document: type[Document]) -> str:
    return json.dumps(build_spec(document), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write ``schemas/<kind>.csv.json`` for every document type."""
    for document in DOCUMENT_TYPES:
        path = csv_spec_path(document)
        path.write_text(render_spec(document), encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
