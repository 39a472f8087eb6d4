"""Alerts as log records (``log:alerts``): the default target, and one that never fails.

The record goes to logger ``filebridge.alerts`` (``log:alerts`` or ``log:``), or to a
child of it for any other address (``log:oncall`` -> ``filebridge.alerts.oncall``), so
one handler on ``filebridge.alerts`` sees every alert. The message is one line; the
whole notice rides along as ``record.alert`` (the webhook's JSON) for structured
log handlers.
"""

from __future__ import annotations

import logging

from filebridge.notify.base import AlertNotice, Notifier

__all__ = ["ALERT_LOGGER", "LogNotifier", "logger_name"]

ALERT_LOGGER = "filebridge.alerts"


def logger_name(address: str) -> str:
    """The logger a ``log:<address>`` target writes to."""
    parts = [part for part in address.strip().split(".") if part]
    if parts[:1] == ["alerts"]:
        parts = parts[1:]
    return ".".join([ALERT_LOGGER, *parts])


class LogNotifier(Notifier):
    """Writes one WARNING record per notice; logging problems are never an alert failure."""

    scheme = "log"

    def send(self, address: str, notice: AlertNotice) -> None:
        try:
            logging.getLogger(logger_name(address)).warning(
                "%s: %s | where: %s | since: %s | last error: %s | see: %s | ack: %s",
                notice.subject,
                notice.what,
                notice.where,
                notice.since.isoformat(timespec="seconds"),
                notice.last_error or "-",
                notice.see_command,
                notice.ack_command,
                extra={"alert": notice.as_json()},
            )
        except Exception:  # the log target is the one target that must never fail
            logging.getLogger(__name__).debug("could not log an alert notice", exc_info=True)
