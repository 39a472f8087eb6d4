"""Telling what a file is from its bytes alone: XML or CSV, which document, which delimiter.

Used where no partner configuration says what to expect (``filebridge validate``,
``filebridge send``). Detection never parses XML: it only looks at the name of the
first element, so a hostile file is still refused by the codec's hardened parser.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from filebridge.formats.base import DEFAULT_MAX_SIZE, Codec
from filebridge.formats.csv import DELIMITERS, CsvCodec, document_for_header
from filebridge.formats.encoding import UTF8_BOM
from filebridge.formats.xml import XmlCodec
from filebridge.model import Document, document_type

_FIRST_ELEMENT = re.compile(rb"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_PROLOG_ITEM = re.compile(rb"\s+|<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", re.S)
_SNIFF = 64 * 1024


@dataclass(frozen=True)
class Detected:
    """What a file looks like; ``document`` is None when it names no known document."""

    format: str  # "xml" or "csv"
    document: type[Document] | None
    delimiter: str | None = None  # CSV only

    def codec(self, max_size: int = DEFAULT_MAX_SIZE) -> Codec:
        if self.format == "xml":
            return XmlCodec(max_size=max_size)
        return CsvCodec(delimiter=self.delimiter or ",", max_size=max_size)


def detect(data: bytes) -> Detected:
    """Guess format, document type and CSV delimiter from the start of a file."""
    head = data[:_SNIFF].removeprefix(UTF8_BOM)
    if head.lstrip().startswith(b"<"):
        return Detected("xml", _xml_document(head))
    return _csv_detected(head)


def _xml_document(head: bytes) -> type[Document] | None:
    position = 0
    while True:
        item = _PROLOG_ITEM.match(head, position)
        if item is None or item.end() == position:
            break
        position = item.end()
    match = _FIRST_ELEMENT.match(head, position)
    if match is None:
        return None
    try:
        return document_type(match.group(1).decode("ascii", "replace"))
    except KeyError:
        return None


def _csv_detected(head: bytes) -> Detected:
    text = head.decode("utf-8", "replace")
    line = next((candidate for candidate in text.splitlines() if candidate.strip()), "")
    best: tuple[int, str] = (0, ",")
    for delimiter in DELIMITERS:
        names = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        found = document_for_header(names)
        if found is not None:
            return Detected("csv", found, delimiter)
        best = max(best, (len(names), delimiter))
    return Detected("csv", None, best[1] if best[0] > 1 else ",")
