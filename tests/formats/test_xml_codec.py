"""The XML format as partners see it: element order, value formats, and error reports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from filebridge.errors import InvalidDocument
from filebridge.formats.xml import XmlCodec
from filebridge.formats.xsd_outline import outline
from filebridge.model import Acknowledgement, Order, OrderResult
from tests.factories import T0, make_ack, make_order, make_result

NS = "urn:filebridge:exchange:1"


def elements(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    names = []
    for element in root.iter():
        path = [etree.QName(e).localname for e in (*reversed(list(element.iterancestors())),
                                                   element)]
        names.append("/".join(path[1:]) or path[0])
    return names


def problems_of(data: bytes) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(data)
    return [(p.line, p.field, p.message) for p in refused.value.problems]


def test_an_order_is_written_in_schema_order_with_namespace_and_version() -> None:
    xml = make_order().to_xml()
    root = etree.fromstring(xml)

    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert root.tag == f"{{{NS}}}OrderInstruction"
    assert root.get("version") == "1.0"
    declared = [e.path for e in outline(Order)]
    assert elements(xml) == [path for path in declared if path in elements(xml)]


def test_optional_fields_that_are_absent_are_left_out() -> None:
    order = make_order(action="deliver", contact=None, notes=None,
                       container={"type_code": "BOX-8M3", "quantity": 1,
                                  "fraction": {"code": "MIXED", "ewc_code": "17 09 04",
                                               "hazardous": False}})
    names = elements(order.to_xml())
    assert "Contact" not in names and "Notes" not in names
    assert "Container/ContainerId" not in names


def test_values_are_written_in_one_stable_form() -> None:
    oslo = timezone(timedelta(hours=1))
    order = make_order(created_at=datetime(2026, 11, 28, 10, 0, 0, 500, tzinfo=UTC),
                       window={"earliest": datetime(2026, 11, 29, 7, tzinfo=oslo),
                               "latest": datetime(2026, 11, 29, 15, tzinfo=oslo)})
    result = make_result(order, weighings=[{"fraction_code": "MIXED", "kg": Decimal("84.250")},
                                           {"fraction_code": "PAPER", "kg": Decimal("1E+2")}])
    xml = order.to_xml().decode() + result.to_xml().decode()

    assert "<CreatedAt>2026-11-28T10:00:00.000500Z</CreatedAt>" in xml
    assert "<Earliest>2026-11-29T07:00:00+01:00</Earliest>" in xml
    assert "<Hazardous>false</Hazardous>" in xml
    assert "<Kg>84.25</Kg>" in xml and "<Kg>100</Kg>" in xml


def test_lists_are_wrapped_in_their_plural_element() -> None:
    result = make_result(make_order(), container_ids=["CNT-1", "CNT-2"])
    names = elements(result.to_xml())
    assert names.count("Weighings/Weighing") == 1
    assert names.count("ContainerIds/ContainerId") == 2


def test_a_document_the_schema_would_refuse_is_never_written() -> None:
    """Python allows offsets with seconds; ISO 8601 and the XSD do not."""
    odd = timezone(timedelta(hours=1, seconds=30))
    order = make_order(created_at=datetime(2026, 11, 28, 10, tzinfo=odd))
    with pytest.raises(InvalidDocument, match="would not be valid XML") as refused:
        order.to_xml()
    assert refused.value.problems[0].field == "CreatedAt"


def test_one_file_holds_exactly_one_document() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        XmlCodec().encode([make_order("A"), make_order("B")])


def test_every_schema_error_is_reported_with_its_line_and_element() -> None:
    xml = make_order().to_xml().decode()
    xml = (xml.replace("<Sequence>1</Sequence>", "<Sequence>0</Sequence>")
              .replace("<Quantity>1</Quantity>", "<Quantity>100</Quantity>")
              .replace("<CountryCode>NO</CountryCode>", "<CountryCode>XX</CountryCode>"))
    lines = xml.splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, start=1) if text in line)

    found = problems_of(xml.encode())

    assert [(line, field) for line, field, _ in found] == [
        (line_of("<Sequence>"), "Sequence"),
        (line_of("<CountryCode>"), "Site/CountryCode"),
        (line_of("<Quantity>"), "Container/Quantity"),
    ]
    assert "249 values listed in the schema" in found[1][2]


def test_a_problem_the_schema_found_is_not_repeated_by_the_model() -> None:
    xml = make_order().to_xml().replace(b"<Quantity>1</Quantity>", b"<Quantity>abc</Quantity>")
    assert [field for _, field, _ in problems_of(xml)] == ["Container/Quantity"]


def test_a_missing_element_is_reported_once() -> None:
    xml = make_order().to_xml().replace(b"<OrderId>ORD-1001</OrderId>", b"")
    found = problems_of(xml)
    assert len(found) == 1
    assert found[0][1] == "Sequence"
    assert "Expected is ( OrderId )" in found[0][2]


def test_rules_across_fields_are_reported_by_the_model_with_a_line() -> None:
    later = T0 + timedelta(days=1)
    xml = (make_order().to_xml().decode()
           .replace(f"<Latest>{(later + timedelta(hours=6)).isoformat()[:19]}Z</Latest>",
                    f"<Latest>{later.isoformat()[:19]}Z</Latest>")
           .replace("<EwcCode>20 03 01</EwcCode>", "<EwcCode>20 03 01*</EwcCode>"))
    lines = xml.splitlines()
    found = {field: (line, message) for line, field, message in problems_of(xml.encode())}

    assert found["Window"][1] == "latest must be after earliest"
    assert lines[found["Window"][0] - 1].strip() == "<Window>"
    assert "hazardous must be true" in found["Container/Fraction"][1]
    assert lines[found["Container/Fraction"][0] - 1].strip() == "<Fraction>"


def test_a_container_id_is_required_unless_delivering() -> None:
    xml = make_order().to_xml().replace(b"<ContainerId>CNT-4711</ContainerId>", b"")
    (found,) = problems_of(xml)
    assert found[1:] == ("Container/ContainerId",
                         "container.container_id is required for action 'empty'")
    assert found[0] == xml.decode().splitlines().index("  <Container>") + 1


def test_coordinates_come_in_pairs() -> None:
    xml = make_order().to_xml().replace(b"<Longitude>10.7522</Longitude>", b"")
    assert ("Site", "Missing child element(s). Expected is ( Longitude ).") in {
        (field, message) for _, field, message in problems_of(xml)}


def test_whitespace_around_numbers_dates_and_booleans_is_tolerated_as_xsd_does() -> None:
    xml = (make_order().to_xml()
           .replace(b"<Quantity>1</Quantity>", b"<Quantity>\n  1\n</Quantity>")
           .replace(b"<Hazardous>false</Hazardous>", b"<Hazardous> false </Hazardous>")
           .replace(b"<CreatedAt>2026", b"<CreatedAt> 2026"))
    assert Order.from_xml(xml) == make_order()


def test_whitespace_inside_text_is_kept() -> None:
    order = make_order(notes="  two\r\nlines\tand a tab  ")
    assert Order.from_xml(order.to_xml()).notes == "  two\r\nlines\tand a tab  "


def test_comments_cdata_and_a_namespace_prefix_are_fine() -> None:
    xml = make_order().to_xml().decode().replace(f'xmlns="{NS}"', f'xmlns:fb="{NS}"')
    xml = re.sub(r"<(/?)([A-Z])", r"<\1fb:\2", xml)
    xml = xml.replace("<fb:Notes>Gate code 1234;",
                      "<fb:Notes><!-- a comment --><![CDATA[Gate code 1234;]]>")
    assert "<fb:OrderInstruction" in xml
    assert Order.from_xml(xml.encode()) == make_order()
    bad = xml.replace("<fb:Quantity>1<", "<fb:Quantity>100<")
    assert [field for _, field, _ in problems_of(bad.encode())] == ["Container/Quantity"]


def test_an_empty_optional_text_is_refused_leave_the_element_out() -> None:
    xml = make_ack(make_order(), reason_text="x").to_xml().replace(
        b"<ReasonText>x</ReasonText>", b"<ReasonText/>")
    assert [field for _, field, _ in problems_of(xml)] == ["ReasonText"]


def test_a_file_of_another_document_type_is_refused_by_from_xml() -> None:
    with pytest.raises(InvalidDocument, match="expected one Acknowledgement"):
        Acknowledgement.from_xml(make_order().to_xml())
    assert OrderResult.from_xml(make_result(make_order()).to_xml()).order_id == "ORD-1001"
