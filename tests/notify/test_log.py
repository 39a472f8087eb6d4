"""Alerts written to the log: the default target, and the one that never fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from filebridge.model import AlertKind
from filebridge.notify import LogNotifier
from tests.notify.samples import make_notice


def test_writes_one_warning_with_the_subject_to_the_alerts_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notice = make_notice(AlertKind.ACK_OVERDUE)

    with caplog.at_level(logging.INFO, logger="filebridge.alerts"):
        LogNotifier().send("alerts", notice)

    [record] = caplog.records
    assert record.name == "filebridge.alerts"
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("[filebridge] ack_overdue retura ORD-1001: ")
    assert "see: filebridge show ORD-1001" in message
    assert "ack: filebridge alerts ack 12" in message
    assert "\n" not in message
    assert record.alert["kind"] == "ack_overdue"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("address", "logger"),
    [
        ("", "filebridge.alerts"),
        ("alerts", "filebridge.alerts"),
        ("oncall", "filebridge.alerts.oncall"),
        ("alerts.oncall", "filebridge.alerts.oncall"),
    ],
)
def test_the_address_picks_a_logger_under_filebridge_alerts(
    address: str, logger: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="filebridge.alerts"):
        LogNotifier().send(address, make_notice())

    assert [record.name for record in caplog.records] == [logger]


class BrokenHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise OSError("disk full")


@pytest.fixture
def broken_alert_log() -> Iterator[None]:
    logger = logging.getLogger("filebridge.alerts")
    handler = BrokenHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@pytest.mark.usefixtures("broken_alert_log")
def test_a_failing_log_handler_never_fails_the_notification() -> None:
    LogNotifier().send("alerts", make_notice())  # does not raise
