"""The CSV format as partners see it: header, delimiters, quoting, lists, formula guard,
and whole-file refusal with every problem's line and column."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from filebridge.errors import HostileDocument, InvalidDocument, Problem
from filebridge.formats.csv import CsvCodec, guard, split_list, unguard
from filebridge.formats.csv_spec import FORMULA_TRIGGERS, columns
from filebridge.model import Acknowledgement, Order, OrderResult
from tests.factories import make_ack, make_order, make_result


def table(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def render(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def problems_of(data: bytes, delimiter: str = ",") -> list[Problem]:
    with pytest.raises(InvalidDocument) as refused:
        CsvCodec(delimiter=delimiter).decode(data)
    return refused.value.problems


def test_the_header_names_every_column_as_the_contract_says() -> None:
    header = table(make_order().to_csv())[0]
    assert header[:5] == ["message_id", "order_id", "sequence", "created_at", "action"]
    for name in ("customer_id", "customer_name", "site_id", "site_postal_code",
                 "container_id", "container_fraction_ewc_code", "window_latest", "notes"):
        assert name in header
    assert table(make_result(make_order()).to_csv())[0][-2:] == ["weighings", "container_ids"]


def test_outbound_files_carry_every_column_even_when_empty() -> None:
    ack = make_ack(make_order())
    header, row = table(ack.to_csv())
    assert header == [spec.name for spec in columns(Acknowledgement)]
    assert dict(zip(header, row, strict=True))["reason_text"] == ""


def test_lists_are_one_cell_each() -> None:
    result = make_result(make_order(), container_ids=["CNT-1", "CNT-2"],
                         weighings=[{"fraction_code": "MIXED", "kg": Decimal("84.250")},
                                    {"fraction_code": "PAPER", "kg": Decimal("12")}])
    header, row = table(result.to_csv())
    cells = dict(zip(header, row, strict=True))
    assert cells["weighings"] == "MIXED:84.25|PAPER:12"
    assert cells["container_ids"] == "CNT-1|CNT-2"


def test_list_separators_inside_values_are_escaped_and_restored() -> None:
    result = make_result(make_order(), container_ids=["A|B", "C\\D", "E:F"],
                         weighings=[{"fraction_code": "GLASS:METAL|X", "kg": Decimal("1")}])
    cells = dict(zip(*table(result.to_csv()), strict=True))
    assert cells["container_ids"] == "A\\|B|C\\\\D|E:F"
    assert cells["weighings"] == "GLASS:METAL\\|X:1"
    assert OrderResult.from_csv(result.to_csv()) == result


def test_an_unknown_escape_is_kept_as_written() -> None:
    assert split_list("C:\\temp|X") == ["C:\\temp", "X"]


def test_a_semicolon_file_with_a_bom_and_crlf_reads() -> None:
    order = make_order()
    data = b"\xef\xbb\xbf" + order.to_csv(";")
    assert data.count(b"\r\n") == 2
    assert Order.from_csv(data, ";") == order


def test_quoted_cells_may_hold_delimiters_quotes_and_line_breaks() -> None:
    notes = 'Ring "Kari"; port 2,\r\nthen left.\nThird line'
    order = make_order(notes=notes)
    for delimiter in (",", ";"):
        data = order.to_csv(delimiter)
        assert Order.from_csv(data, delimiter).notes == notes


def test_line_numbers_count_physical_lines_across_multiline_cells() -> None:
    first = make_order("A-1", notes="one\ntwo\nthree")
    second = make_order("A-2")
    header, row_one, row_two = table(CsvCodec().encode([first, second]))
    row_two[header.index("container_quantity")] = "0"
    problems = problems_of(render([header, row_one, row_two]))
    assert [(p.line, p.field) for p in problems] == [(5, "container_quantity")]


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_every_free_text_cell_is_guarded_against_formulas(trigger: str) -> None:
    text = f"{trigger}HYPERLINK(\"http://evil.example\")"
    short = text.replace("\t", "x").replace("\r", "x") if trigger in "\t\r" else text
    order = make_order(
        customer={"customer_id": "=C1", "name": short},
        site={"site_id": "S", "street": short, "postal_code": "0155", "city": short,
              "country_code": "NO"},
        container={"type_code": "660L", "container_id": "-5", "quantity": 1,
                   "fraction": {"code": short, "ewc_code": "20 03 01", "hazardous": False}},
        contact={"name": short, "phone": "+47 22 33 44 55"},
        notes=text,
    )
    ack = make_ack(order, reason_text=text)
    result = make_result(order, deviation_text=text,
                         weighings=[{"fraction_code": short, "kg": Decimal("1")}])
    for document in (order, ack, result):
        cells = dict(zip(*table(document.to_csv()), strict=True))
        for spec in columns(type(document)):
            value = cells[spec.name]
            carries_trigger = value.startswith(trigger) or value.startswith("'" + trigger)
            if spec.free_text and carries_trigger:
                assert value.startswith("'" + trigger), spec.name
            else:
                assert not value.startswith("'"), spec.name
            if trigger in "=+-@" and spec.free_text:  # every free-text field carries it
                assert carries_trigger, spec.name
        assert type(document).from_csv(document.to_csv()) == document
    cells = dict(zip(*table(order.to_csv()), strict=True))
    assert cells["customer_id"] == "=C1"  # ids stay as they are
    assert cells["contact_phone"] == "+47 22 33 44 55"
    assert cells["container_id"] == "-5"


@pytest.mark.parametrize("value", ["'=already quoted", "''", "'", "it's", "'plain", "=1+1"])
def test_the_formula_guard_round_trips_exactly(value: str) -> None:
    assert unguard(guard(value)) == value


def test_a_partner_s_own_guard_is_removed() -> None:
    ack = make_ack(make_order(), reason_text="x")
    header, row = table(ack.to_csv())
    row[header.index("reason_text")] = "'-5 degrees, road closed"
    decoded = Acknowledgement.from_csv(render([header, row]))
    assert decoded.reason_text == "-5 degrees, road closed"


def test_optional_columns_may_be_left_out_inbound() -> None:
    ack = make_ack(make_order(), status="accepted", partner_reference=None, planned_date=None)
    required = [spec.name for spec in columns(Acknowledgement) if spec.required]
    header, row = table(ack.to_csv())
    cells = dict(zip(header, row, strict=True))
    assert Acknowledgement.from_csv(render([required, [cells[n] for n in required]])) == ack


def test_a_missing_required_column_is_refused_by_name() -> None:
    header, row = table(make_ack(make_order()).to_csv())
    index = header.index("created_at")
    del header[index], row[index]
    assert [(p.line, p.field) for p in problems_of(render([header, row]))] == [(1, "created_at")]


def test_an_unknown_or_repeated_column_is_refused() -> None:
    header, row = table(make_ack(make_order()).to_csv())
    problems = problems_of(render([[*header, "comment", "status"], [*row, "hi", "accepted"]]))
    assert [(p.field, p.message) for p in problems] == [
        ("comment", "unknown column for a ack file"), ("status", "column appears twice")]


def test_a_row_with_too_few_or_too_many_cells_is_refused() -> None:
    header, row = table(make_ack(make_order()).to_csv())
    problems = problems_of(render([header, row[:-1], [*row, "extra"]]))
    assert [p.line for p in problems] == [2, 3]


def test_an_invalid_row_refuses_the_whole_file_with_every_problem() -> None:
    orders = [make_order(f"B-{n}") for n in range(4)]
    header, *rows = table(CsvCodec().encode(orders))
    rows[1][header.index("container_quantity")] = "100"
    rows[3][header.index("site_country_code")] = "XX"
    rows[3][header.index("window_earliest")] = "2026-11-29 10:00"
    problems = problems_of(render([header, *rows]))
    assert [(p.line, p.field) for p in problems] == [
        (3, "container_quantity"), (5, "site_country_code"), (5, "window_earliest")]


def test_a_comma_as_decimal_mark_gets_a_hint() -> None:
    header, row = table(make_result(make_order()).to_csv(";"), ";")
    row[header.index("weighings")] = "MIXED:84,25"
    (problem,) = problems_of(render([header, row], ";"), ";")
    assert problem.field == "weighings"
    assert "item 1 (kg)" in problem.message and "use '.'" in problem.message


def test_malformed_list_items_are_named() -> None:
    header, row = table(make_result(make_order()).to_csv())
    row[header.index("weighings")] = "MIXED:1|PAPER|"
    messages = [p.message for p in problems_of(render([header, row]))]
    assert messages == ["item 2 ('PAPER') is not FRACTION_CODE:KG", "item 3 is empty"]


def test_a_cross_field_rule_points_at_the_columns_involved() -> None:
    header, row = table(make_order().to_csv())
    row[header.index("container_id")] = ""
    row[header.index("window_latest")] = row[header.index("window_earliest")]
    problems = problems_of(render([header, row]))
    assert [p.field for p in problems] == ["window_earliest, window_latest"]
    header, row = table(make_order().to_csv())
    row[header.index("container_id")] = ""
    (problem,) = problems_of(render([header, row]))
    assert (problem.field, problem.line) == ("container_id", 2)


def test_a_header_of_another_delimiter_gets_a_hint() -> None:
    (problem,) = problems_of(make_order().to_csv(";"), ",")
    assert "';' as delimiter" in problem.message


def test_one_document_type_per_file_told_by_the_header() -> None:
    for document in (make_order(), make_ack(make_order()), make_result(make_order())):
        assert type(CsvCodec().decode(document.to_csv())[0]) is type(document)
    with pytest.raises(ValueError, match="one document type"):
        CsvCodec().encode([make_order(), make_ack(make_order())])


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"hello,world\r\n1,2\r\n"])
def test_a_file_without_a_known_header_is_refused(data: bytes) -> None:
    assert problems_of(data)


def test_a_header_without_rows_is_refused() -> None:
    header = make_order().to_csv().split(b"\r\n")[0] + b"\r\n"
    assert [p.message for p in problems_of(header)] == ["the file has a header but no rows"]


def test_blank_lines_are_skipped() -> None:
    data = make_order().to_csv().replace(b"\r\n", b"\r\n\r\n;;\r\n", 1) + b"\r\n\r\n"
    assert Order.from_csv(data.replace(b";;", b",,")) == make_order()


def test_invalid_utf8_is_refused_with_its_line() -> None:
    data = make_order(notes="café").to_csv().replace("é".encode(), b"\xe9")
    (problem,) = problems_of(data)
    assert problem.line == 2 and "0xe9" in problem.message


def test_a_broken_quote_is_refused_with_its_line() -> None:
    header, row = table(make_ack(make_order()).to_csv())
    data = render([header, row]) + b'A,"B\r\n'
    (problem,) = problems_of(data)
    assert problem.line == 3


def test_an_oversized_file_is_refused_unread() -> None:
    data = make_order().to_csv()
    with pytest.raises(HostileDocument, match="over the limit"):
        CsvCodec(max_size=len(data) - 1).decode(data)


def test_decode_one_refuses_a_file_of_several_rows() -> None:
    data = CsvCodec().encode([make_order("A"), make_order("B")])
    with pytest.raises(InvalidDocument, match="expected one Order"):
        Order.from_csv(data)


@pytest.mark.parametrize("delimiter", ['"', ":", "\\", "\n", ",,"])
def test_unusable_delimiters_are_refused(delimiter: str) -> None:
    with pytest.raises(ValueError):
        CsvCodec(delimiter=delimiter)


