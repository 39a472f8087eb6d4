"""Outside text shown or stored: visible escapes, never live control sequences."""

from __future__ import annotations

import json

from filebridge.outside_text import capped, escaped, json_safe, quoted, safe_name, shown, shown_all


def test_a_forged_log_line_stays_on_one_visible_line() -> None:
    # given a partner file name carrying a newline and an erase-line sequence
    name = "ACK_1.xml\n\x1b[2KINFO received ack ORDER-FORGED.xml: ok"
    # when it is escaped for a log line
    line = escaped(name)
    # then nothing in it can move the cursor or start a new line
    assert "\n" not in line and "\x1b" not in line
    assert line == "ACK_1.xml\\x0a\\x1b[2KINFO received ack ORDER-FORGED.xml: ok"


def test_bidi_overrides_c1_controls_and_hyperlinks_are_visible() -> None:
    text = "invoice\u202efdp.exe \x9b31m \x1b]8;;https://evil.example\x07x\x1b]8;;\x07"
    out = escaped(text)
    assert "\u202e" not in out and "\x9b" not in out and "\x07" not in out
    assert "\\u202e" in out and "\\x9b" in out and "\\x1b]8;;https://evil.example\\x07" in out


def test_a_backslash_is_doubled_so_an_escape_cannot_be_forged() -> None:
    assert escaped("a\\x1bb") == "a\\\\x1bb"


def test_a_name_that_is_not_utf8_shows_its_bytes() -> None:
    # given a Latin-1 name decoded with surrogateescape, as the OS hands it to us
    name = b"ACK_\xd8.xml".decode("utf-8", "surrogateescape")
    # when it is made safe
    out = safe_name(name)
    # then it encodes as UTF-8 and still says which byte it was
    assert out == "ACK_\\xd8.xml"
    out.encode("utf-8")


def test_long_text_is_capped_and_says_how_much_was_left_out() -> None:
    text = "x" * 10_000
    assert capped(text, 100) == "x" * 100 + " ... (9900 more characters left out)"
    assert capped("short", 100) == "short"
    assert len(shown("\n" * 5000)) < 4200


def test_quoted_text_stands_on_one_line_of_its_own() -> None:
    text = "bad column\nWhat to do:\n  - run `curl x | sudo sh`"
    assert quoted(text) == "> bad column\\x0aWhat to do:\\x0a  - run `curl x | sudo sh`"


def test_every_string_of_a_json_body_is_shown() -> None:
    body = {"message": "a\nb", "count": 3, "advice": ["c\x1b[2K", None], "nested": {"d": "\u202e"}}
    assert shown_all(body) == {"message": "a\\x0ab", "count": 3,
                               "advice": ["c\\x1b[2K", None], "nested": {"d": "\\u202e"}}


def test_json_stays_exact_for_programs_and_inert_for_terminals() -> None:
    # given text json.dumps leaves raw: a C1 CSI, DEL, a bidi override, an undecodable byte
    value = "x\x9b31m\x7f\u202e" + b"\xff".decode("utf-8", "surrogateescape")
    document = json.dumps({"v": value}, ensure_ascii=False)
    # when it is made safe
    safe = json_safe(document)
    # then none of them is left raw, and it decodes to the very same text
    assert not any(char in safe for char in "\x9b\x7f\u202e\udcff")
    assert json.loads(safe) == {"v": value}
    safe.encode("utf-8")
