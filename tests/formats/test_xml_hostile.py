"""Partner XML is untrusted: entity tricks, DTDs, huge files and odd encodings are refused
before they can read a file, reach the network or eat the memory."""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from filebridge.errors import DocumentError, HostileDocument, InvalidDocument
from filebridge.formats.base import DEFAULT_MAX_SIZE
from filebridge.formats.hardened_xml import hardened_parser
from filebridge.formats.xml import XmlCodec
from filebridge.model import Order
from tests.factories import make_order

NS = "urn:filebridge:exchange:1"
VALID = make_order().to_xml()


def with_notes(notes: str, prolog: str = "") -> bytes:
    """A valid order whose Notes element holds ``notes`` (raw XML), after ``prolog``."""
    body = VALID.decode().split("\n", 1)[1]
    start, rest = body.split("<Notes>", 1)
    _, end = rest.split("</Notes>", 1)
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return f"{declaration}{prolog}{start}<Notes>{notes}</Notes>{end}".encode()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1 that nothing should ever connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        yield sock


def connection_arrived(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def test_a_valid_document_passes_the_same_parser() -> None:
    assert XmlCodec().decode(VALID) == [make_order()]


def test_an_external_entity_cannot_read_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4711-do-not-leak", encoding="utf-8")
    doctype = f'<!DOCTYPE OrderInstruction [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    data = with_notes("&xxe;", prolog=doctype)

    with pytest.raises(HostileDocument) as refused:
        XmlCodec().decode(data)

    assert "DOCTYPE" in str(refused.value)
    assert "TOPSECRET" not in str(refused.value)
    assert all("TOPSECRET" not in str(p) for p in refused.value.problems)


def test_a_parameter_entity_cannot_read_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-0815", encoding="utf-8")
    doctype = (f'<!DOCTYPE OrderInstruction [<!ENTITY % file SYSTEM "file://{secret}">'
               f'<!ENTITY % wrap "<!ENTITY leak \'%file;\'>"> %wrap;]>\n')
    with pytest.raises(HostileDocument) as refused:
        XmlCodec().decode(with_notes("&leak;", prolog=doctype))
    assert "TOPSECRET" not in str(refused.value)


def test_an_external_dtd_is_never_fetched(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    doctype = f'<!DOCTYPE OrderInstruction SYSTEM "http://127.0.0.1:{port}/evil.dtd">\n'

    with pytest.raises(HostileDocument):
        XmlCodec().decode(with_notes("hello", prolog=doctype))

    assert not connection_arrived(listener)


def test_a_remote_parameter_entity_is_never_fetched(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    doctype = (f'<!DOCTYPE OrderInstruction [<!ENTITY % remote SYSTEM '
               f'"http://127.0.0.1:{port}/x.dtd"> %remote;]>\n')
    with pytest.raises(HostileDocument):
        XmlCodec().decode(with_notes("hello", prolog=doctype))
    assert not connection_arrived(listener)


def test_a_schema_location_hint_is_not_followed(listener: socket.socket) -> None:
    """Partners may name a schema location; we validate against our own XSD only."""
    port = listener.getsockname()[1]
    data = VALID.replace(
        b'version="1.0">',
        f'version="1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{NS} http://127.0.0.1:{port}/evil.xsd">'.encode(),
        1,
    )
    assert Order.from_xml(data) == make_order()
    assert not connection_arrived(listener)


def test_an_xinclude_is_not_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-XI", encoding="utf-8")
    include = (f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
               f'href="file://{secret}" parse="text"/>')
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(with_notes(include))
    assert "TOPSECRET" not in str(refused.value)


def test_billion_laughs_is_refused_unexpanded() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    doctype = f"<!DOCTYPE OrderInstruction [{entities}]>\n"
    with pytest.raises(HostileDocument) as refused:
        XmlCodec().decode(with_notes("&lol9;", prolog=doctype))
    assert "lollol" not in str(refused.value)


def test_a_doctype_after_comments_is_still_refused() -> None:
    prolog = "<!-- a partner's comment -->\n<?pi something?>\n<!DOCTYPE OrderInstruction>\n"
    with pytest.raises(HostileDocument):
        XmlCodec().decode(with_notes("hello", prolog=prolog))


def test_a_50_mb_document_is_refused_by_size_before_parsing() -> None:
    """Well-formed, so only the size check can refuse it as hostile: a parse would have
    failed differently (lxml refuses text nodes over 10 MB as not well-formed)."""
    data = with_notes("a" * (50 * 1000 * 1000))
    with pytest.raises(HostileDocument) as refused:
        XmlCodec().decode(data)
    assert f"limit of {DEFAULT_MAX_SIZE} bytes" in str(refused.value)


def test_the_size_limit_is_configurable() -> None:
    with pytest.raises(HostileDocument):
        XmlCodec(max_size=len(VALID) - 1).decode(VALID)
    assert XmlCodec(max_size=len(VALID)).decode(VALID)


def test_a_wrong_namespace_is_refused() -> None:
    data = VALID.replace(NS.encode(), b"urn:example:other", 1)
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(data)
    assert "urn:example:other" in str(refused.value)
    assert NS in str(refused.value)


def test_a_missing_namespace_is_refused() -> None:
    data = VALID.replace(f' xmlns="{NS}"'.encode(), b"", 1)
    with pytest.raises(InvalidDocument, match="no namespace"):
        XmlCodec().decode(data)


def test_an_unknown_root_element_is_refused() -> None:
    data = f'<?xml version="1.0"?><Invoice xmlns="{NS}" version="1.0"/>'.encode()
    with pytest.raises(InvalidDocument, match="unknown root element Invoice"):
        XmlCodec().decode(data)


def test_a_declared_latin1_encoding_is_refused() -> None:
    data = with_notes("Bakeriet på Hjørnet").decode().replace(
        'encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("iso-8859-1")
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(data)
    assert "ISO-8859-1" in str(refused.value)
    assert "only UTF-8" in str(refused.value)


def test_invalid_utf8_bytes_are_refused_with_their_line() -> None:
    data = with_notes("caf\u00e9").replace("café".encode(), b"caf\xe9")
    line = data[: data.index(b"caf\xe9")].count(b"\n") + 1
    with pytest.raises(InvalidDocument) as refused:
        XmlCodec().decode(data)
    assert "not valid UTF-8" in str(refused.value)
    assert refused.value.problems[0].line == line


def test_utf16_is_refused() -> None:
    data = VALID.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(InvalidDocument, match="UTF-16"):
        XmlCodec().decode(data)


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert Order.from_xml(b"\xef\xbb\xbf" + VALID) == make_order()


def test_malformed_xml_is_refused_with_its_line() -> None:
    data = VALID.replace(b"</Customer>", b"</Custom>", 1)
    line = data[: data.index(b"</Custom>")].count(b"\n") + 1
    with pytest.raises(InvalidDocument, match="not well-formed") as refused:
        XmlCodec().decode(data)
    assert line in {p.line for p in refused.value.problems}


@pytest.mark.parametrize("data", [b"", b"   ", b"not xml at all", b"<", b"\x00\x01\x02"])
def test_garbage_is_refused_as_a_document_error(data: bytes) -> None:
    with pytest.raises(DocumentError):
        XmlCodec().decode(data)


class TestTheParserItself:
    """The second line of defence: even a DOCTYPE that got past the first check would
    neither expand entities nor fetch anything."""

    def test_it_does_not_expand_an_external_entity(self, tmp_path: Path) -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOPSECRET-2nd-line", encoding="utf-8")
        data = (f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>'
                f'<r>&xxe;</r>').encode()
        root = etree.fromstring(data, hardened_parser())
        assert "TOPSECRET" not in etree.tostring(root).decode()

    def test_it_does_not_fetch_an_external_dtd(self, listener: socket.socket) -> None:
        port = listener.getsockname()[1]
        data = (f'<!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
                f'<r>&remote;</r>').encode()
        with contextlib.suppress(etree.XMLSyntaxError):
            etree.fromstring(data, hardened_parser())
        assert not connection_arrived(listener)

    def test_it_does_not_expand_nested_entities(self) -> None:
        entities = '<!ENTITY a "xxxxxxxxxx">' + "".join(
            f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8))
        data = f"<!DOCTYPE r [{entities}]><r>&i;</r>".encode()
        try:
            root = etree.fromstring(data, hardened_parser())
        except etree.XMLSyntaxError as exc:  # libxml2's own amplification limit
            assert "amplification" in str(exc)
        else:
            assert "xxxxxxxxxx" not in etree.tostring(root).decode()
