"""Telling format, document type and delimiter from content alone."""

from __future__ import annotations

import pytest

from filebridge.formats.detect import detect
from filebridge.model import Acknowledgement, Order, OrderResult
from tests.factories import make_ack, make_order, make_result


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_documents_and_their_delimiter_are_told_from_the_header(delimiter: str) -> None:
    order = make_order()
    for document in (order, make_ack(order), make_result(order)):
        detected = detect(b"\xef\xbb\xbf" + document.to_csv(delimiter))
        assert (detected.format, detected.document, detected.delimiter) == (
            "csv", type(document), delimiter)
        assert detected.codec().decode(document.to_csv(delimiter)) == [document]


def test_xml_documents_are_told_from_the_root_element() -> None:
    order = make_order()
    assert detect(order.to_xml()).document is Order
    assert detect(make_ack(order).to_xml()).document is Acknowledgement
    prolog = b'<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE x [<!ENTITY a "b">]>\n'
    xml = make_result(order).to_xml().split(b"\n", 1)[1]
    assert detect(prolog + xml) == detect(xml)
    assert detect(xml).document is OrderResult


@pytest.mark.parametrize("data", [b"", b"hello world", b"a,b,c\n1,2,3", b"<Invoice/>"])
def test_unknown_content_names_no_document(data: bytes) -> None:
    assert detect(data).document is None
