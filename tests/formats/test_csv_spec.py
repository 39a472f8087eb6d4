"""The published CSV column specs agree with the models (and so with the XSDs)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from filebridge.formats.csv import split_list, unguard
from filebridge.formats.csv_spec import PART_SEPARATOR, build_spec, columns
from filebridge.formats.layout import leaf_paths, node_at
from filebridge.formats.schema_files import csv_spec_path
from filebridge.model import DOCUMENT_TYPES, Document, Order, OrderResult
from tests.formats.invalid import FULL_DOCUMENTS


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_the_published_spec_is_the_one_the_models_define(document: type[Document]) -> None:
    published = json.loads(csv_spec_path(document).read_text(encoding="utf-8"))
    assert published == build_spec(document), (
        f"{csv_spec_path(document).name} is out of date: run "
        "python -m filebridge.formats.csv_spec")


def test_column_names_follow_the_contract() -> None:
    names = {spec.path: spec.name for spec in columns(Order)}
    assert names[("customer", "customer_id")] == "customer_id"
    assert names[("site", "site_id")] == "site_id"
    assert names[("container", "container_id")] == "container_id"
    assert names[("site", "postal_code")] == "site_postal_code"
    assert names[("container", "fraction", "ewc_code")] == "container_fraction_ewc_code"
    assert names[("contact", "name")] == "contact_name"
    result = {spec.path: spec.name for spec in columns(OrderResult)}
    assert result[("weighings",)] == "weighings"
    assert result[("container_ids",)] == "container_ids"


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_every_model_field_is_exactly_one_column(document: type[Document]) -> None:
    specs = columns(document)
    assert [spec.path for spec in specs] == list(leaf_paths(document))
    assert len({spec.name for spec in specs}) == len(specs)
    for spec in specs:
        required = all(node_at(document, spec.path[: n + 1]).required
                       for n in range(len(spec.path)))
        assert spec.required == required, spec.name


@pytest.mark.parametrize("kind", sorted(FULL_DOCUMENTS))
def test_every_cell_we_write_matches_its_column_s_published_rules(kind: str) -> None:
    document = FULL_DOCUMENTS[kind]
    header, row = list(csv.reader(io.StringIO(document.to_csv().decode(), newline="")))
    for spec, cell in zip(columns(type(document)), row, strict=True):
        assert header[columns(type(document)).index(spec)] == spec.name
        if cell == "":
            continue
        text = unguard(cell) if spec.free_text else cell
        if spec.value is not None:
            values = [(spec.value, text)]
        else:
            values = []
            for item in split_list(text):
                parts = item.rsplit(PART_SEPARATOR, len(spec.items) - 1)
                values.extend(zip(spec.items, parts, strict=True))
        for rule, value in values:
            assert rule.pattern is None or re.fullmatch(rule.pattern, value), (spec.name, value)
            assert rule.enum is None or value in rule.enum, (spec.name, value)


def test_the_spec_tells_partners_the_file_rules() -> None:
    published = json.loads(csv_spec_path(Order).read_text(encoding="utf-8"))
    assert published["root_element"] == "OrderInstruction"
    assert published["xml_schema"] == "order.xsd"
    assert {"encoding", "header", "delimiter", "formula_guard", "lists"} <= set(published["file"])
    notes = next(c for c in published["columns"] if c["name"] == "notes")
    assert notes["free_text"] is True and notes["max_length"] == 1000
    assert notes["description"].startswith("Optional: free text for the driver")
