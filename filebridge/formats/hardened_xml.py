"""The one way filebridge parses XML that came from outside: hardened, size-limited, UTF-8.

Partner files are untrusted. Before lxml sees a byte, a file is refused when it is over the
size limit, is not UTF-8 (or declares another encoding), or has a DOCTYPE in its prolog:
no DTD means no entity expansion (billion laughs), no external entities (file reads),
and no DTD fetched over the network. The parser itself is configured the same way
(``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False``) as a second
line of defence, and the parsed tree is checked once more for a DOCTYPE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from lxml import etree

from filebridge.errors import HostileDocument, InvalidDocument, Problem
from filebridge.formats.encoding import UTF8_BOM, decode_utf8

_DECLARATION = re.compile(rb"\A<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*(["'])(.*?)\1""")
# What may come before the root element besides a DOCTYPE: whitespace, the XML
# declaration, comments and processing instructions.
_PROLOG_ITEM = re.compile(r"\s+|<!--.*?-->|<\?.*?\?>", re.DOTALL)


def parse_untrusted_xml(data: bytes, max_size: int) -> etree._Element:
    """Parse partner XML and return its root element, or refuse it with every reason found."""
    if len(data) > max_size:
        raise HostileDocument(
            f"refused unread: the file is {len(data)} bytes, over the limit of {max_size} bytes"
        )
    text = _utf8_text(data)
    _refuse_doctype(text)
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        problems = [
            Problem(entry.message, line=entry.line or None)
            for entry in log_entries(exc.error_log)
            if entry.level >= etree.ErrorLevels.ERROR
        ] or [Problem(str(exc))]
        raise InvalidDocument("not well-formed XML", problems) from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype:
        raise HostileDocument("refused: the document has a DOCTYPE (no DTDs, no entities)")
    return root


def hardened_parser() -> etree.XMLParser:
    """A fresh parser (lxml parsers are not thread-safe) that expands no entity, loads no
    DTD, never touches the network and keeps libxml2's limits on depth and text size."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def log_entries(log: object) -> list[Any]:
    """The entries of an lxml error log (iterable at run time, not in the type stubs)."""
    return list(cast(Iterable[Any], log))


def source_line(element: etree._Element | None) -> int | None:
    """The line an element started on in the parsed file; None for built trees."""
    line = element.sourceline if element is not None else None
    return line if isinstance(line, int) else None


def _utf8_text(data: bytes) -> str:
    """The text of the file; a declared encoding other than UTF-8 is named in the refusal
    even when the bytes also are not UTF-8 (the usual case: Latin-1 with æ, ø, å)."""
    declaration = _DECLARATION.match(data.removeprefix(UTF8_BOM))
    if declaration:
        encoding = _ENCODING.search(declaration.group(0))
        if encoding and encoding.group(2).lower() not in (b"utf-8", b"utf8"):
            name = encoding.group(2).decode("ascii", "replace")
            raise InvalidDocument(
                f"the file declares encoding {name!r}; only UTF-8 is accepted",
                [Problem("change the declaration to encoding=\"UTF-8\" and send UTF-8", line=1)],
            )
    return decode_utf8(data)


def _refuse_doctype(text: str) -> None:
    position = 0
    while True:
        item = _PROLOG_ITEM.match(text, position)
        if item is None or item.end() == position:
            break
        position = item.end()
    if text[position : position + 9].upper() == "<!DOCTYPE":
        line = text.count("\n", 0, position) + 1
        raise HostileDocument(
            "refused unread: the document has a DOCTYPE or DTD declaration "
            f"(line {line}); DTDs and entities are not allowed"
        )
