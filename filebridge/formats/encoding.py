"""Both wire formats are UTF-8: one strict decoder that says where a file breaks that rule."""

from __future__ import annotations

from filebridge.errors import InvalidDocument, Problem

UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}


def decode_utf8(data: bytes) -> str:
    """The file's text without a leading byte order mark; InvalidDocument with the line of
    the first byte that is not UTF-8, or when the file is plainly UTF-16 or UTF-32."""
    for bom, name in _OTHER_BOMS.items():
        if data.startswith(bom):
            raise InvalidDocument(f"the file is {name}; only UTF-8 is accepted")
    if data[:1] == b"\x00" or data[1:2] == b"\x00":
        raise InvalidDocument("the file is not UTF-8 (it looks like UTF-16 or UTF-32)")
    body = data.removeprefix(UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        offset = exc.start + len(data) - len(body)
        byte = body[exc.start : exc.start + 1].hex()
        raise InvalidDocument(
            "the file is not valid UTF-8",
            [Problem(f"byte 0x{byte} at offset {offset} is not UTF-8", line=line)],
        ) from None
