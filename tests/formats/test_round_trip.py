"""Any valid document survives XML and CSV unchanged, whatever its text holds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filebridge.formats.csv import CsvCodec
from filebridge.formats.xml import XmlCodec
from filebridge.model import Acknowledgement, Document, Order, OrderResult
from tests.formats.strategies import acks, documents, orders, results

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(orders())
def test_order_round_trips_through_xml(order: Order) -> None:
    assert Order.from_xml(order.to_xml()) == order


@SETTINGS
@given(acks())
def test_ack_round_trips_through_xml(ack: Acknowledgement) -> None:
    assert Acknowledgement.from_xml(ack.to_xml()) == ack


@SETTINGS
@given(results())
def test_result_round_trips_through_xml(result: OrderResult) -> None:
    assert OrderResult.from_xml(result.to_xml()) == result


@SETTINGS
@given(documents, st.sampled_from([",", ";", "\t", "|"]))
def test_any_document_round_trips_through_csv(document: Document, delimiter: str) -> None:
    kind = type(document)
    assert kind.from_csv(document.to_csv(delimiter), delimiter) == document


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([orders(), acks(), results()]).flatmap(
    lambda strategy: st.lists(strategy, min_size=1, max_size=5)))
def test_a_csv_file_of_many_rows_round_trips(batch: list[Document]) -> None:
    codec = CsvCodec(delimiter=";")
    assert codec.decode(codec.encode(batch)) == batch


@SETTINGS
@given(documents)
def test_rendering_is_stable(document: Document) -> None:
    """Equal documents give identical bytes, so a resend's file is byte-for-byte the same."""
    xml = XmlCodec()
    again = type(document).from_xml(document.to_xml())
    assert xml.encode([again]) == xml.encode([document])
    assert again.to_csv() == document.to_csv()
