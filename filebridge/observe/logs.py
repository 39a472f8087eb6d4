"""Logging for the daemon: human lines by default, or one JSON object per line.

The engine logs with context in ``extra`` (``partner``, ``order_id``, ``event``, ``file``,
``error``; the log notifier adds the whole ``alert``). The JSON format carries exactly
those fields when a record has them, so a log shipper can filter by partner or order
without parsing messages; nothing else a record might carry is written, so a stray
``extra`` can never leak a document body into the log.

Log lines quote partners' file names and errors, which may hold newlines and terminal
control sequences: a human line writes them escaped (``\\x0a``, ``\\x1b``), message,
context and the message of a logged exception alike, so that a record stays one line
and cannot forge another (under systemd every line is a journal entry of its own). A
JSON line keeps the exact text, with JSON's own escapes for every character a terminal
would act on.

Secrets never belong in a log, and filebridge never logs them on purpose. As a second
line of defence every formatted line is scrubbed of the secret values the config points
at (SFTP passwords and key passphrases from the environment, the SMTP password, the
journal URL's password), in case a library puts one into an error message.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from filebridge.config import BridgeConfig
from filebridge.outside_text import escaped, json_safe

LogFormat = Literal["human", "json"]
ExcInfo = (tuple[type[BaseException], BaseException, TracebackType | None]
           | tuple[None, None, None])
LOG_FORMATS: tuple[LogFormat, ...] = ("human", "json")

#: context the engine attaches with ``extra=``; written to JSON lines when present
CONTEXT_FIELDS = ("partner", "order_id", "event", "file", "error", "alert")
#: the context a human line repeats at its end (the message usually says the rest)
HUMAN_CONTEXT = ("partner", "order_id")
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words


def utc_stamp(created: float) -> str:
    """``2026-11-28T10:00:00.123Z``: the record's time in UTC, like the journal's."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def secrets_of(config: BridgeConfig) -> list[str]:
    """The secret values this config makes filebridge hold, longest first."""
    names = [config.notify.email.password_env]
    for partner in config.partners.values():
        names += [partner.password_env, partner.key_passphrase_env]
    values = [os.environ.get(name) for name in names if name]
    with suppress(ValueError):  # a malformed URL has no password to hide
        values.append(urlsplit(config.journal.url).password)
    found = {value for value in values if value and len(value) >= MIN_SECRET_LENGTH}
    return sorted(found, key=len, reverse=True)


class Redactor:
    """Replaces each secret (and its JSON-escaped and visibly escaped forms) with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms.add(secret)
            forms.add(json_safe(json.dumps(secret, ensure_ascii=False)[1:-1]))
            forms.add(escaped(secret))
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", <context>..., "exc"}`` on one line."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return self._redact(json_safe(json.dumps(entry, ensure_ascii=False, default=str)))


class HumanFormatter(logging.Formatter):
    """``2026-11-28 10:00:00.123Z INFO filebridge.engine: sent X [partner=p order_id=o]``."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        stamp = utc_stamp(record.created).replace("T", " ")
        line = f"{stamp} {record.levelname} {record.name}: {escaped(record.getMessage())}"
        context = [(key, getattr(record, key, None)) for key in HUMAN_CONTEXT]
        shown = " ".join(f"{key}={escaped(str(value))}" for key, value in context
                         if value is not None)
        if shown:
            line += f" [{shown}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self._redact(line)

    def formatException(self, ei: ExcInfo) -> str:
        """The traceback as Python writes it, but each exception's message on one
        escaped line: the frames are our code, the messages may quote a partner."""
        _, value, tb = ei
        if value is None:
            return ""
        lines: list[str] = []
        for chunk in traceback.TracebackException(type(value), value, tb).format():
            if chunk.startswith((" ", "Traceback", "\nThe above", "\nDuring handling")):
                lines += [escaped(part) for part in chunk.removesuffix("\n").split("\n")]
            else:  # "ValueError: <message>": whatever the message holds, one line
                lines.append(escaped(chunk.rstrip("\n")))
        return "\n".join(lines)


def formatter_for(fmt: LogFormat, secrets: Iterable[str] = ()) -> logging.Formatter:
    redact = Redactor(secrets)
    return JsonFormatter(redact) if fmt == "json" else HumanFormatter(redact)


class StderrHandler(logging.Handler):
    """Writes each record to whatever ``sys.stderr`` is when the record is logged.

    rich's Live view (and its progress bars) swap ``sys.stderr`` for a proxy that prints
    above the panel; a handler bound to the stream at start-up would tear the panel."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def escape_unhandled_records() -> None:
    """Records logged where no handler is set up (a library's warning during ``check``,
    such as paramiko quoting a hostile server's banner) are written as human lines,
    escaped, instead of Python's raw last-resort output."""
    handler = StderrHandler(logging.WARNING)
    handler.setFormatter(HumanFormatter())
    logging.lastResort = handler


@contextmanager
def daemon_logging(fmt: LogFormat = "human", level: int = logging.INFO,
                   secrets: Iterable[str] = ()) -> Iterator[logging.Handler]:
    """Log to stderr in ``fmt`` from ``level`` up while the block runs; afterwards the
    root logger is as it was (commands run in-process in tests, one after another)."""
    root = logging.getLogger()
    handler = StderrHandler(level)
    handler.setFormatter(formatter_for(fmt, secrets))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


class ErrorCount(logging.Handler):
    """Counts records at ERROR and above: what the engine caught, logged and survived.

    ``run --once`` exits 1 when the pass logged an error, because the engine keeps
    going after a failure it can only log (a folder it may not write, a bug)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def counting_errors(logger: str = "filebridge") -> Iterator[ErrorCount]:
    counter = ErrorCount()
    target = logging.getLogger(logger)
    target.addHandler(counter)
    try:
        yield counter
    finally:
        target.removeHandler(counter)
