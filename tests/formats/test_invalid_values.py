"""A bad value anywhere is refused, and the problem names the element or column it is in.

XML problems name the element path (``Container/Quantity``), CSV problems the column
(``container_quantity``) and the row's line; an independent XSD validator (xmllint)
refuses the same XML files, so partners can trust their own tooling.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from filebridge.errors import InvalidDocument
from filebridge.formats.csv import CsvCodec
from filebridge.formats.xml import XmlCodec
from filebridge.model import document_type
from tests.formats.invalid import (
    INVALID,
    XMLLINT,
    Leaf,
    csv_with,
    leaves,
    xml_with,
    xmllint_verdicts,
)
from tests.support import require

LEAVES = leaves()
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def bad_values() -> st.SearchStrategy[tuple[Leaf, str]]:
    return st.sampled_from(LEAVES).flatmap(
        lambda leaf: st.tuples(st.just(leaf), INVALID[leaf.type_name]))


def test_every_value_type_of_the_models_has_invalid_examples() -> None:
    assert {leaf.type_name for leaf in LEAVES} <= set(INVALID)


@SETTINGS
@given(bad_values())
def test_a_bad_value_in_xml_is_refused_at_its_element(case: tuple[Leaf, str]) -> None:
    leaf, text = case
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(xml_with(leaf, text))
    fields = {problem.field for problem in refused.value.problems}
    assert leaf.element in fields
    assert all(problem.line for problem in refused.value.problems)


@SETTINGS
@given(bad_values(), st.sampled_from([",", ";"]))
def test_a_bad_value_in_csv_is_refused_at_its_column_and_line(
    case: tuple[Leaf, str], delimiter: str
) -> None:
    leaf, text = case
    assume(text != "" or leaf.required)  # an empty cell is an absent value
    with pytest.raises(InvalidDocument) as refused:
        CsvCodec(delimiter=delimiter).decode(csv_with(leaf, text, delimiter))
    where = {(problem.field, problem.line) for problem in refused.value.problems}
    assert (leaf.column, 2) in where


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(case=bad_values())
def test_xmllint_refuses_the_same_bad_values(case: tuple[Leaf, str], tmp_path: Path) -> None:
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    leaf, text = case
    path = tmp_path / "bad.xml"
    path.write_bytes(xml_with(leaf, text))
    assert xmllint_verdicts({path: document_type(leaf.kind)}) == {path: False}


def test_every_element_and_column_refuses_a_bad_value(tmp_path: Path) -> None:
    """One fixed bad value per leaf: all refused by us (XML and CSV) and by xmllint."""
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    files = {}
    for number, leaf in enumerate(LEAVES):
        text = FIXED_BAD[leaf.type_name]
        path = tmp_path / f"{number:03d}-{leaf.kind}.xml"
        path.write_bytes(xml_with(leaf, text))
        files[path] = document_type(leaf.kind)
        with pytest.raises(InvalidDocument) as xml_refused:
            XmlCodec().decode(path.read_bytes())
        assert leaf.element in {p.field for p in xml_refused.value.problems}
        with pytest.raises(InvalidDocument) as csv_refused:
            CsvCodec().decode(csv_with(leaf, text))
        assert leaf.column in {p.field for p in csv_refused.value.problems}
    assert xmllint_verdicts(files) == dict.fromkeys(files, False)


FIXED_BAD = {
    "SafeId": ".hidden", "OtherId": "x" * 65, "ShortText": "two\nlines", "FreeText": "bell\x85",
    "Sequence": "0", "Quantity": "100", "Kilograms": "1.2345", "Latitude": "90.5",
    "Longitude": "-180.5", "CountryCode": "XX", "EwcCode": "20 03 1", "Phone": "call me",
    "PostalCode": "-0155", "TypeCode": "660 L", "Timestamp": "2026-11-28T10:00:00",
    "Date": "2026-11-28T10:00:00Z", "Boolean": "yes", "Action": "fly", "AckStatus": "ok",
    "Outcome": "done",
}
