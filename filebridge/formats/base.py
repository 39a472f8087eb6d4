"""The Codec port: documents to bytes and back, for one wire format.

``decode`` is where untrusted partner input enters: it must never resolve entities,
load a DTD or touch the network, and it reports *every* problem it finds (with line
numbers where the format has lines) in one ``InvalidDocument`` / ``HostileDocument``.
A file is all or nothing: if any document in it is invalid, nothing is returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TypeVar

from filebridge.model import Document

D = TypeVar("D", bound=Document)

DEFAULT_MAX_SIZE = 10 * 1000 * 1000


class Codec(ABC):
    """One wire format (XML or CSV)."""

    extension: str  # "xml" or "csv"

    @abstractmethod
    def encode(self, documents: Sequence[Document]) -> bytes:
        """Render documents of one type as one file. XML holds exactly one document."""

    @abstractmethod
    def decode(self, data: bytes) -> list[Document]:
        """Detect the document type, validate, and return every document in the file."""

    def decode_one(self, data: bytes, expected: type[D]) -> D:
        """Decode a file that must hold exactly one document of type ``expected``."""
        from filebridge.errors import InvalidDocument, Problem

        documents = self.decode(data)
        if len(documents) != 1 or not isinstance(documents[0], expected):
            found = ", ".join(type(d).__name__ for d in documents) or "nothing"
            raise InvalidDocument(
                f"expected one {expected.__name__}", [Problem(f"found {found}")]
            )
        return documents[0]


def codec_for(format_name: str, csv_delimiter: str = ",") -> Codec:
    """The codec for a partner's ``format`` key."""
    if format_name == "xml":
        from filebridge.formats.xml import XmlCodec

        return XmlCodec()
    if format_name == "csv":
        from filebridge.formats.csv import CsvCodec

        return CsvCodec(delimiter=csv_delimiter)
    raise ValueError(f"unknown format {format_name!r}")
