"""Every example partners get in samples/ is valid, for us and for an independent validator."""

from __future__ import annotations

from pathlib import Path

import pytest

from filebridge.config import load_config
from filebridge.formats.detect import detect
from filebridge.formats.schema_files import samples_dir
from filebridge.model import Acknowledgement, Order, OrderResult
from tests.formats.invalid import XMLLINT, xmllint_verdicts
from tests.support import require

SAMPLES = samples_dir()
DOCUMENTS = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".xml", ".csv"))
EXPECTED = {
    "order-deliver": (Order, "deliver"), "order-empty": (Order, "empty"),
    "ack-accepted": (Acknowledgement, "accepted"), "ack-rejected": (Acknowledgement, "rejected"),
    "result-completed": (OrderResult, "completed"),
    "result-not-completed": (OrderResult, "not_completed"),
}


def test_every_document_exists_in_both_formats() -> None:
    names = {p.name for p in DOCUMENTS}
    for stem in EXPECTED:
        assert {f"{stem}.xml", f"{stem}.csv"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_each_sample_validates_with_our_codec(path: Path) -> None:
    data = path.read_bytes()
    detected = detect(data)
    documents = detected.codec().decode(data)
    stem = path.stem
    if stem in EXPECTED:
        kind, state = EXPECTED[stem]
        (document,) = documents
        assert isinstance(document, kind)
        assert state in document.model_dump_json()
    else:
        assert documents


def test_the_two_formats_of_each_sample_hold_the_same_document() -> None:
    for stem in EXPECTED:
        xml = (SAMPLES / f"{stem}.xml").read_bytes()
        csv = (SAMPLES / f"{stem}.csv").read_bytes()
        assert detect(xml).codec().decode(xml) == detect(csv).codec().decode(csv)


def test_the_deliver_order_has_no_container_id_and_the_empty_order_has_one() -> None:
    deliver = Order.from_xml((SAMPLES / "order-deliver.xml").read_bytes())
    empty = Order.from_xml((SAMPLES / "order-empty.xml").read_bytes())
    assert deliver.container.container_id is None
    assert empty.container.container_id
    result = OrderResult.from_xml((SAMPLES / "result-completed.xml").read_bytes())
    assert result.weighings is not None and len(result.weighings) == 2
    not_done = OrderResult.from_xml((SAMPLES / "result-not-completed.xml").read_bytes())
    assert not_done.deviation_code and not_done.deviation_text


def test_the_readme_says_which_csv_uses_semicolons() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for path in DOCUMENTS:
        assert path.name in readme
        delimiter = detect(path.read_bytes()).delimiter
        if delimiter == ";":
            assert f"`{path.name}`" in readme.split("which use `;`")[0].rsplit("except", 1)[1]


def test_each_xml_sample_validates_with_xmllint() -> None:
    require(XMLLINT is not None, "xmllint is not installed (apt-get install libxml2-utils)")
    files = {p: EXPECTED[p.stem][0] for p in DOCUMENTS if p.suffix == ".xml"}
    assert xmllint_verdicts(files) == dict.fromkeys(files, True)


def test_the_sample_config_loads_with_an_sftp_and_a_local_partner() -> None:
    config = load_config(SAMPLES / "filebridge.toml")
    transports = {name: partner.transport for name, partner in config.partners.items()}
    assert sorted(transports.values()) == ["local", "sftp"]
    sftp = next(p for p in config.partners.values() if p.transport == "sftp")
    assert sftp.format == "csv" and sftp.csv_delimiter == ";"
    assert config.escalation.levels[1].notify[0].startswith("email:")
