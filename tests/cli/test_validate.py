"""``filebridge validate``: per file OK or every problem with file, line and field; exit
0 when all are valid, 1 when any is not, 2 for usage errors; never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from filebridge.cli.main import _register, cli
from filebridge.formats.schema_files import samples_dir
from tests.factories import make_ack, make_order, make_result

_register()


def validate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def good(tmp_path: Path) -> list[Path]:
    order = make_order()
    files = {
        "order.xml": order.to_xml(),
        "ack.csv": make_ack(order).to_csv(";"),
        "results.csv": make_result(order).to_csv(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in files]


@pytest.fixture
def bad_xml(tmp_path: Path) -> Path:
    xml = make_order().to_xml().replace(b"<Quantity>1</Quantity>", b"<Quantity>100</Quantity>")
    xml = xml.replace(b"<CountryCode>NO</CountryCode>", b"<CountryCode>XX</CountryCode>")
    path = tmp_path / "bad-order.xml"
    path.write_bytes(xml)
    return path


def line_of(path: Path, text: bytes) -> int:
    data = path.read_bytes()
    return data[: data.index(text)].count(b"\n") + 1


def test_valid_files_pass_with_exit_0(good: list[Path]) -> None:
    result = validate(*map(str, good))
    assert result.exit_code == 0
    for path in good:
        assert f"OK {path}" in result.stdout
    assert "3 valid, 0 invalid" in result.stdout


def test_every_problem_is_printed_with_file_line_and_field(bad_xml: Path) -> None:
    result = validate(str(bad_xml))
    assert result.exit_code == 1
    assert f"INVALID {bad_xml}  order:" in result.stdout
    quantity = line_of(bad_xml, b"<Quantity>")
    country = line_of(bad_xml, b"<CountryCode>")
    assert f"{bad_xml}:{quantity}: Container/Quantity: The value '100' is greater" in result.stdout
    assert f"{bad_xml}:{country}: Site/CountryCode:" in result.stdout


def test_one_bad_file_among_good_ones_fails_the_run(good: list[Path], bad_xml: Path) -> None:
    result = validate(*map(str, good), str(bad_xml))
    assert result.exit_code == 1
    assert "3 valid, 1 invalid" in result.stdout


def test_a_bad_csv_row_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    data = make_order().to_csv(";").replace(b";660L;", b";660 L;")
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    result = validate(str(path))
    assert result.exit_code == 1
    assert f"{path}:2: container_type_code: '660 L' does not match" in result.stdout


def test_json_lists_every_file_with_its_errors(good: list[Path], bad_xml: Path) -> None:
    result = validate("--json", str(good[0]), str(bad_xml))
    assert result.exit_code == 1
    first, second = as_json(result)
    assert first == {"file": str(good[0]), "valid": True, "document": "order", "count": 1,
                     "errors": []}
    assert (second["file"], second["valid"], second["document"], second["count"]) == (
        str(bad_xml), False, "order", 0)
    assert {"line": line_of(bad_xml, b"<Quantity>"), "field": "Container/Quantity",
            "message": "The value '100' is greater than the maximum value allowed ('99')."
            } in second["errors"]


def test_a_hostile_file_gets_one_clear_line_and_no_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-CLI", encoding="utf-8")
    body = make_order().to_xml().decode().split("\n", 1)[1].replace(
        "<Notes>Gate code 1234; container behind the bakery.</Notes>", "<Notes>&xxe;</Notes>")
    evil = tmp_path / "evil.xml"
    evil.write_text(f'<!DOCTYPE OrderInstruction [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
                    + body, encoding="utf-8")

    result = validate(str(evil))

    assert result.exit_code == 1
    assert result.stdout.strip().splitlines() == [
        f"INVALID {evil}  order: refused unread: the document has a DOCTYPE or DTD declaration "
        "(line 1); DTDs and entities are not allowed"]
    assert "TOPSECRET" not in result.output
    assert "Traceback" not in result.output
    assert as_json(validate("--json", str(evil)))[0]["errors"][0]["field"] is None


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.xml"
    with huge.open("wb") as handle:
        handle.truncate(50 * 1000 * 1000)  # sparse: 50 MB that are never read
    result = validate(str(huge))
    assert result.exit_code == 1
    assert "over the limit of 10000000 bytes" in result.stdout
    small = validate("--max-size", "60MB", str(huge))
    assert "over the limit" not in small.stdout


def test_a_missing_or_unreadable_file_is_one_line_and_exit_1(
    good: list[Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.xml"
    result = validate(str(missing), str(good[0]))
    assert result.exit_code == 1
    assert f"INVALID {missing}  cannot read: No such file or directory" in result.stdout
    assert f"OK {good[0]}" in result.stdout
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.xml"
        locked.write_bytes(b"<x/>")
        locked.chmod(0)
        assert "Permission denied" in validate(str(locked)).stdout


def test_no_files_is_a_usage_error() -> None:
    result = validate()
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_a_bad_size_option_is_a_usage_error(good: list[Path]) -> None:
    assert validate("--max-size", "lots", str(good[0])).exit_code == 2


def test_the_samples_folder_validates_skipping_what_is_not_a_document() -> None:
    files = sorted(str(p) for p in samples_dir().iterdir())
    result = validate(*files)
    assert result.exit_code == 0, result.stdout
    assert "SKIPPED" in result.stdout and "README.md" in result.stdout
    skipped = [entry for entry in as_json(validate("--json", *files)) if "skipped" in entry]
    assert sorted(Path(entry["file"]).name for entry in skipped) == [
        "README.md", "filebridge.service", "filebridge.toml"]
    assert all(entry["valid"] is None for entry in skipped)


def test_a_garbage_file_named_like_a_document_is_invalid_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ORDER_1_1.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    result = validate(str(path))
    assert result.exit_code == 1
    assert f"INVALID {path}" in result.stdout
