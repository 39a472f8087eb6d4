"""Text that came from outside (partners' file names and contents, server banners, error
texts quoting them) made safe to show or send.

Partners are semi-trusted: a file name may carry ``ESC[2K`` and a newline that forge a
whole log line, an OSC 8 hyperlink, a right-to-left override that reverses what an
operator reads, or a 30 MB error list. Everything that shows or stores such text goes
through here, so the rules live in one place:

- :func:`escaped` makes one line of it: C0 and C1 controls (newline and tab included),
  DEL, bidi overrides and isolates, and the other invisible format characters are
  written visibly as ``\\xNN`` / ``\\uNNNN``, and a backslash as ``\\\\``, so the
  escaping cannot be forged either. Undecodable bytes kept as surrogates
  (``surrogateescape``) show as ``\\xNN`` of the byte.
- :func:`capped` shortens a long text to a budget and says how much was left out.
- :func:`shown` does both, for a single value in a log line, a table cell or an email.
- :func:`quoted` sets such a value on a quoted line of its own (``> ...``), for an email
  body, so that nothing a partner wrote reads as our own words or instructions.
- :func:`shown_all` applies :func:`shown` to every string in a JSON-shaped value (a
  webhook body).
- :func:`json_safe` makes a serialized JSON document safe to print or log without
  changing what it decodes to: the characters ``json.dumps`` leaves raw (C1 controls,
  DEL, bidi and invisible characters, lone surrogates) become ``\\uNNNN`` escapes.

Rich markup is a separate danger handled by the CLI (values go into ``rich.text.Text``,
never into a markup string); escaping here keeps the terminal's own control sequences out.
"""

from __future__ import annotations

import re
from typing import Any

STORED_TEXT_LIMIT = 4096
"""The most characters of outside text (an error, a reason) stored or sent anywhere."""

# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates and marks; zero-width
# and other invisible format characters; line and paragraph separators; the BOM;
# lone surrogates (what surrogateescape leaves for undecodable bytes).
_UNSAFE = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


# What json.dumps(ensure_ascii=False) leaves raw of the above (it escapes C0 and "\\").
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
QUOTE_MARK = "> "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escaped(text: str) -> str:
    """One visible line: every control, bidi or invisible character written as an escape."""
    return _UNSAFE.sub(_escape_one, text)


def capped(text: str, limit: int = STORED_TEXT_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    left_out = len(text) - limit
    return f"{text[:limit]} ... ({left_out} more characters left out)"


def shown(text: str, limit: int = STORED_TEXT_LIMIT) -> str:
    """A value from outside ready for one line of a log, a table cell or an email."""
    return capped(escaped(text), limit)


def safe_name(name: str) -> str:
    """A partner's file name written so it can be shown and stored as text.

    Names that are not valid UTF-8 reach us with surrogates (``surrogateescape``); they
    cannot be encoded for the journal or a terminal as they are."""
    return escaped(name)


def quoted(text: str, limit: int = STORED_TEXT_LIMIT) -> str:
    """Outside text as one quoted line (``> ...``): shown apart from our own words."""
    return QUOTE_MARK + shown(text, limit)


def shown_all(value: Any, limit: int = STORED_TEXT_LIMIT) -> Any:
    """``value`` (dicts, lists and scalars, as for JSON) with every string :func:`shown`."""
    if isinstance(value, str):
        return shown(value, limit)
    if isinstance(value, dict):
        return {key: shown_all(item, limit) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shown_all(item, limit) for item in value]
    return value


def json_safe(document: str) -> str:
    """A serialized JSON document with nothing left in it that a terminal acts on.

    The escapes are JSON's own (``\\u202e``), so a program decodes exactly the text it
    would have decoded before; only a person reading the raw line sees the difference."""
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", document)
