"""Daemon logs: one JSON object per line with the engine's context, or human lines;
never a secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from filebridge.config import config_from_dict
from filebridge.observe.logs import LOG_FORMATS, daemon_logging, secrets_of
from tests.hostile import BIDI, FORGED_LINE, SHOWN_FORGED, assert_shown_as_text

log = logging.getLogger("filebridge.test")


def lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line]


def test_json_lines_carry_the_engine_context(capsys: pytest.CaptureFixture[str]) -> None:
    # given the daemon's JSON logging
    with daemon_logging("json"):
        # when the engine logs with context, without, and with an exception
        log.info("sent %s", "ORDER_A_1.xml", extra={
            "partner": "hauler", "order_id": "A", "event": "sent", "file": "ORDER_A_1.xml"})
        log.warning("plain")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed", extra={"partner": "hauler", "error": "boom"})
        log.debug("not at INFO")
    # then every line is one JSON object with the fields that were given
    records = [json.loads(line) for line in lines(capsys.readouterr().err)]
    assert [r["message"] for r in records] == ["sent ORDER_A_1.xml", "plain", "failed"]
    first = records[0]
    assert set(first) == {"time", "level", "logger", "message", "partner", "order_id", "event",
                          "file"}
    assert (first["level"], first["logger"], first["partner"], first["order_id"],
            first["event"], first["file"]) == (
        "INFO", "filebridge.test", "hauler", "A", "sent", "ORDER_A_1.xml")
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert set(records[1]) == {"time", "level", "logger", "message"}
    assert records[2]["error"] == "boom" and "ValueError: boom" in records[2]["exc"]


def test_unknown_extra_fields_are_not_written(capsys: pytest.CaptureFixture[str]) -> None:
    with daemon_logging("json"):
        log.info("received", extra={"partner": "hauler", "body": "<OrderResult>...</OrderResult>"})
    record = json.loads(capsys.readouterr().err)
    assert "body" not in record and "OrderResult" not in json.dumps(record)


def test_human_lines_name_partner_and_order(capsys: pytest.CaptureFixture[str]) -> None:
    with daemon_logging("human", logging.WARNING):
        log.info("hidden below the level")
        log.warning("sending X failed", extra={"partner": "hauler", "order_id": "A"})
    (line,) = lines(capsys.readouterr().err)
    assert line.endswith(" WARNING filebridge.test: sending X failed [partner=hauler order_id=A]")


def test_secrets_from_the_config_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # given an SFTP password and a journal password the config points at
    monkeypatch.setenv("RETURA_PASSWORD", 'pa"ss-w0rd')
    config = config_from_dict({
        "journal": {"url": "postgresql://fb:db-s3cret@localhost/fb"},
        "partners": {"retura": {"transport": "sftp", "host": "localhost", "username": "u",
                                "password_env": "RETURA_PASSWORD",
                                "known_hosts": "known_hosts"}},
    }, tmp_path / "filebridge.toml")
    assert secrets_of(config) == ['pa"ss-w0rd', "db-s3cret"]
    # when a library error message happens to contain them, in either format
    for fmt in LOG_FORMATS:
        with daemon_logging(fmt, secrets=secrets_of(config)):
            log.error('auth failed with pa"ss-w0rd', extra={"error": "url fb:db-s3cret@host"})
    err = capsys.readouterr().err
    # then neither is written
    assert "w0rd" not in err and "s3cret" not in err
    assert err.count("***") == 3


def test_logging_is_put_back_as_it_was() -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    with daemon_logging("json", logging.DEBUG):
        assert root.level == logging.DEBUG
    assert (list(root.handlers), root.level) == before


def test_a_forged_line_in_a_file_name_stays_in_its_own_record(
        capsys: pytest.CaptureFixture[str]) -> None:
    # given a partner file name that carries a newline, an erase-line and a fake record
    name = "ACK_1.xml" + FORGED_LINE
    shown = "ACK_1.xml" + SHOWN_FORGED + " filebridge.inbox: received ack ORDER-FORGED.xml: ok"
    with daemon_logging("human"):
        # when the engine logs it in a message, in its context, and in an exception
        log.warning("received %s: quarantined", name, extra={"partner": "p", "order_id": name})
        try:
            raise ValueError(f"cannot move {name}")
        except ValueError:
            log.exception("move failed")
    out = capsys.readouterr().err.splitlines()
    # then the record is one line showing the name escaped, in its context too
    assert out[0].endswith(f"received {shown}: quarantined [partner=p order_id={shown}]")
    # and so is the traceback's message; no line of the output is a forged record
    assert out[-1] == f"ValueError: cannot move {shown}"
    assert not any(line.startswith("2001-01-01") or "\x1b" in line for line in out)


def test_json_lines_keep_the_text_and_escape_what_a_terminal_acts_on(
        capsys: pytest.CaptureFixture[str]) -> None:
    with daemon_logging("json"):
        log.warning("received %s", "x" + BIDI + "\x9b31m" + FORGED_LINE,
                    extra={"file": "x" + BIDI})
    raw = capsys.readouterr().err
    # one line, nothing live in it, and the exact text for a program reading it
    assert raw.count("\n") == 1
    assert_shown_as_text(raw)
    record = json.loads(raw)
    assert record["message"] == "received x" + BIDI + "\x9b31m" + FORGED_LINE
    assert record["file"] == "x" + BIDI
