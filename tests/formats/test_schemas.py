"""The published XSDs declare exactly the models: same elements, order, optionality, and
the same rules for every value type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree

from filebridge.formats.layout import LEXICAL, Node, ValueType, layout
from filebridge.formats.schema_files import schemas_dir, xsd_path
from filebridge.formats.xsd_outline import XS, outline, simple_types
from filebridge.model import DOCUMENT_TYPES, XML_NAMESPACE, Document, Order
from filebridge.model import values as v

# The two "no control character" patterns are spelled with a Unicode category in XSD.
XSD_SPELLING = {
    v.PRINTABLE_PATTERN: r"[^\p{Cc}]+",
    v.FREE_TEXT_PATTERN: r"([^\p{Cc}]|\t|\n|\r)*",
}
BASES = {"string": "xs:string", "enum": "xs:string", "integer": "xs:integer",
         "decimal": "xs:decimal", "datetime": "xs:dateTime", "date": "xs:date"}


def expected_elements(nodes: tuple[Node, ...], prefix: str = "") -> Iterator[tuple[str, Node]]:
    for node in nodes:
        path = prefix + node.element
        yield path, node
        if node.is_list:
            item = f"{path}/{node.item_element}"
            yield item, node
            for part in node.parts:
                yield f"{item}/{part.element}", part
        else:
            yield from expected_elements(node.parts, path + "/")


def value_types() -> dict[str, ValueType]:
    found: dict[str, ValueType] = {}
    for document in DOCUMENT_TYPES:
        for _, node in expected_elements(layout(document)):
            if node.value is not None:
                found[node.value.name] = node.value
    return found


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_elements_follow_the_model_fields_in_order(document: type[Document]) -> None:
    declared = [element.path for element in outline(document)]
    assert declared[0] == document.root_element
    assert declared[1:] == [path for path, _ in expected_elements(layout(document))]


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_optionality_lists_and_types_match_the_model(document: type[Document]) -> None:
    declared = {element.path: element for element in outline(document)}
    for path, node in expected_elements(layout(document)):
        element = declared[path]
        is_item = node.is_list and path.endswith("/" + str(node.item_element))
        if is_item:
            assert (element.min_occurs, element.max_occurs) == (1, None), path
            if node.value is not None:
                assert element.type_name == node.value.name, path
            continue
        assert element.min_occurs == (1 if node.required else 0), path
        assert element.max_occurs == 1, path
        if node.value is not None and not node.is_list:
            name = "xs:boolean" if node.value.name == "Boolean" else node.value.name
            assert element.type_name == name, path


@pytest.mark.parametrize("name", sorted(set(value_types()) - {"Boolean"}))
def test_every_simple_type_has_the_model_s_rules(name: str) -> None:
    value = value_types()[name]
    declared = simple_types()[name]
    restriction = declared.find(f"{XS}restriction")
    assert restriction is not None
    assert restriction.get("base") == BASES[value.kind]
    facets: dict[str, object] = {}
    enumeration = []
    for facet in restriction:
        tag = etree.QName(facet).localname
        if tag == "enumeration":
            enumeration.append(facet.get("value"))
        else:
            facets[tag] = facet.get("value")

    expected: dict[str, object] = {}
    constraints = value.constraints
    pattern = constraints.get("pattern")
    if value.kind in ("date", "datetime"):
        expected["pattern"] = LEXICAL[value.kind][1:-1]
    elif isinstance(pattern, str):
        expected["pattern"] = XSD_SPELLING.get(pattern, pattern[1:-1])
    for key, facet in (("min_length", "minLength"), ("max_length", "maxLength"),
                       ("ge", "minInclusive"), ("le", "maxInclusive"),
                       ("max_digits", "totalDigits"), ("decimal_places", "fractionDigits")):
        if key in constraints:
            expected[facet] = str(constraints[key])
    if value.kind == "decimal" and "le" not in constraints:
        whole = int(str(constraints["max_digits"])) - int(str(constraints["decimal_places"]))
        expected["maxExclusive"] = str(10**whole)
    if name == "CountryCode":
        del expected["pattern"]
        assert sorted(enumeration) == sorted(v.ISO_COUNTRY_CODES)
    elif value.kind == "enum":
        assert enumeration == list(value.choices)
    else:
        assert enumeration == []
    assert facets == expected


@pytest.mark.parametrize("file_name", ["common.xsd", "order.xsd", "ack.xsd", "result.xsd"])
def test_every_schema_is_in_the_exchange_namespace(file_name: str) -> None:
    schema = etree.parse(str(schemas_dir() / file_name)).getroot()
    assert schema.get("targetNamespace") == XML_NAMESPACE
    assert schema.get("elementFormDefault") == "qualified"
    assert schema.get("version") == "1.0"


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_the_root_carries_a_fixed_required_version(document: type[Document]) -> None:
    schema = etree.parse(str(xsd_path(document))).getroot()
    (attribute,) = schema.iterfind(f".//{XS}attribute")
    assert (attribute.get("name"), attribute.get("use"), attribute.get("fixed")) == (
        "version", "required", "1.0")


@pytest.mark.parametrize("document", DOCUMENT_TYPES, ids=lambda d: d.kind)
def test_every_element_is_documented_for_partners(document: type[Document]) -> None:
    undocumented = [element.path for element in outline(document) if not element.documentation]
    assert undocumented == []
    assert all(
        declared.find(f"{XS}annotation/{XS}documentation") is not None
        for declared in simple_types().values()
    )


def test_rules_the_schema_cannot_express_are_documented_as_checked_by_filebridge() -> None:
    docs = {element.path: element.documentation for element in outline(Order)}
    assert "after Earliest (checked by filebridge" in docs["Window/Latest"]
    assert "Required for empty, retrieve and swap" in docs["Container/ContainerId"]
    assert "checked by filebridge" in docs["Container/ContainerId"]
    assert "ends in * (checked by filebridge" in docs["Container/Fraction/Hazardous"]
