"""The models refuse what the wire cannot carry, and enforce the rules XSD 1.0 cannot say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from filebridge.model import Acknowledgement, Order, OrderResult
from tests.factories import T0, make_ack, make_order, make_result


def error_locs(exc: ValidationError) -> set[tuple[str | int, ...]]:
    return {tuple(error["loc"]) for error in exc.errors()}


@pytest.mark.parametrize("text", ["", "\x00", "bell\x07", "c1\x85", "nonchar\ufffe", "\uffff"])
def test_free_text_is_never_empty_and_holds_only_what_xml_can_carry(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_order(notes=text)
    assert error_locs(refused.value) == {("notes",)}


def test_free_text_may_hold_line_breaks_and_tabs() -> None:
    assert make_order(notes="a\r\nb\tc").notes == "a\r\nb\tc"


@pytest.mark.parametrize("name", ["", "tab\there", "line\nbreak", "\ufffe"])
def test_short_texts_are_one_printable_line(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_order(customer={"customer_id": "C", "name": name})
    assert error_locs(refused.value) == {("customer", "name")}


def test_a_container_id_is_required_unless_delivering() -> None:
    container = {"type_code": "660L", "quantity": 1,
                 "fraction": {"code": "MIXED", "ewc_code": "20 03 01", "hazardous": False}}
    assert make_order(action="deliver", container=container).container.container_id is None
    for action in ("empty", "retrieve", "swap"):
        with pytest.raises(ValidationError, match="container_id is required"):
            make_order(action=action, container=container)


def test_latest_must_be_after_earliest() -> None:
    with pytest.raises(ValidationError, match="latest must be after earliest"):
        make_order(window={"earliest": T0, "latest": T0})
    assert make_order(window={"earliest": T0, "latest": T0 + timedelta(microseconds=1)})


def test_a_starred_ewc_code_is_hazardous() -> None:
    fraction = {"code": "BATTERIES", "ewc_code": "16 06 01*", "hazardous": False}
    container = {"type_code": "BOX-8M3", "container_id": "C1", "quantity": 1,
                 "fraction": fraction}
    with pytest.raises(ValidationError, match="hazardous must be true"):
        make_order(container=container)
    assert make_order(container={**container, "fraction": {**fraction, "hazardous": True}})


def test_coordinates_come_in_pairs() -> None:
    site = {"site_id": "S", "street": "Storgata 1", "postal_code": "0155", "city": "Oslo",
            "country_code": "NO", "latitude": "59.9"}
    with pytest.raises(ValidationError, match="given together"):
        make_order(site=site)


@pytest.mark.parametrize("message_id", [".hidden", "a/b", "x" * 65, "", "æ"])
def test_ids_that_end_up_in_file_names_are_safe(message_id: str) -> None:
    with pytest.raises(ValidationError):
        make_order(message_id=message_id)


def test_timestamps_need_an_offset() -> None:
    with pytest.raises(ValidationError):
        make_order(created_at="2026-11-28T10:00:00")


def test_every_document_reads_and_writes_both_formats() -> None:
    order = make_order()
    ack = make_ack(order)
    result = make_result(order)
    assert Order.from_xml(order.to_xml()) == order
    assert Acknowledgement.from_csv(ack.to_csv(";"), ";") == ack
    assert OrderResult.from_csv(result.to_csv()) == result
    assert OrderResult.from_xml(result.to_xml()) == result
