"""An independent XSD validator (xmllint) and ours agree on the published schemas: what
one refuses the other refuses, except the three documented rules XSD 1.0 cannot say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from filebridge.errors import DocumentError
from filebridge.formats.xml import XmlCodec
from filebridge.model import Document, Order, OrderResult, document_type
from tests.factories import make_order, make_result
from tests.formats.invalid import XMLLINT, xmllint_verdicts
from tests.formats.strategies import documents
from tests.support import require

ORDER = make_order().to_xml().decode()
RESULT = make_result(make_order()).to_xml().decode()

Mutation = Callable[[], str]
STRUCTURAL: dict[str, tuple[type[Document], Mutation]] = {
    "missing required element": (Order, lambda: ORDER.replace(
        "<OrderId>ORD-1001</OrderId>", "")),
    "unknown element": (Order, lambda: ORDER.replace("<Notes>", "<Remark>x</Remark><Notes>")),
    "elements out of order": (Order, lambda: ORDER.replace(
        "<Sequence>1</Sequence>", "").replace("<Action>", "<Sequence>1</Sequence><Action>")),
    "element twice": (Order, lambda: ORDER.replace(
        "<Action>empty</Action>", "<Action>empty</Action><Action>empty</Action>")),
    "latitude without longitude": (Order, lambda: ORDER.replace(
        "<Longitude>10.7522</Longitude>", "")),
    "version 2.0": (Order, lambda: ORDER.replace('version="1.0">', 'version="2.0">')),
    "no version": (Order, lambda: ORDER.replace(' version="1.0">', ">")),
    "unknown attribute": (Order, lambda: ORDER.replace('version="1.0">', 'version="1.0" a="b">')),
    "text in a group": (Order, lambda: ORDER.replace("<Customer>", "<Customer>hello")),
    "empty weighings": (OrderResult, lambda: RESULT.split("<Weighings>")[0]
                        + "<Weighings></Weighings>" + RESULT.split("</Weighings>")[1]),
    "wrong namespace": (Order, lambda: ORDER.replace("urn:filebridge:exchange:1", "urn:x")),
}
MODEL_ONLY: dict[str, Mutation] = {
    "latest not after earliest": lambda: ORDER.replace(
        "<Latest>2026-11-29T16:00:00Z</Latest>", "<Latest>2026-11-29T10:00:00Z</Latest>"),
    "no container id for empty": lambda: ORDER.replace("<ContainerId>CNT-4711</ContainerId>", ""),
    "starred EWC code not hazardous": lambda: ORDER.replace(
        "<EwcCode>20 03 01</EwcCode>", "<EwcCode>20 03 01*</EwcCode>"),
}


def refused_by_us(data: bytes) -> bool:
    try:
        XmlCodec().decode(data)
    except DocumentError:
        return True
    return False


def test_structurally_broken_documents_are_refused_by_both(tmp_path: Path) -> None:
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    files = {}
    for number, (kind, mutate) in enumerate(STRUCTURAL.values()):
        path = tmp_path / f"{number}.xml"
        path.write_text(mutate(), encoding="utf-8")
        assert path.read_text(encoding="utf-8") != (ORDER if kind is Order else RESULT)
        files[path] = kind
        assert refused_by_us(path.read_bytes()), path
    assert xmllint_verdicts(files) == dict.fromkeys(files, False)


@pytest.mark.parametrize("case", sorted(MODEL_ONLY))
def test_cross_field_rules_are_ours_alone_as_the_schemas_document(
    case: str, tmp_path: Path
) -> None:
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    path = tmp_path / "order.xml"
    path.write_text(MODEL_ONLY[case](), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != ORDER
    assert xmllint_verdicts({path: Order}) == {path: True}
    assert refused_by_us(path.read_bytes())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_xmllint_accepts_every_document_we_write(document: Document, tmp_path: Path) -> None:
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    path = tmp_path / "doc.xml"
    path.write_bytes(document.to_xml())
    assert xmllint_verdicts({path: document_type(document.kind)}) == {path: True}
