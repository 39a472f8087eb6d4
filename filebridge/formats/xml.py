"""The XML wire format: one document per file, validated against ``schemas/*.xsd``.

Writing, a document is rendered in the schema's element order and validated against its
XSD before the bytes are returned, so filebridge never writes a file a partner's
validator would refuse. Reading, the bytes go through the one hardened parser
(``hardened_xml``), then the XSD, then the pydantic model (for the rules XSD 1.0 cannot
say, such as ``Latest`` after ``Earliest``). Every problem of both steps is reported with
its line and the element path (``Container/Quantity``, ``Weighings/Weighing[2]/Kg``);
a problem the XSD already reported is not repeated by the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from lxml import etree
from pydantic import BaseModel, ValidationError

from filebridge.errors import InvalidDocument, Problem
from filebridge.formats.base import DEFAULT_MAX_SIZE, Codec
from filebridge.formats.hardened_xml import log_entries, parse_untrusted_xml, source_line
from filebridge.formats.layout import (
    COLLAPSED_KINDS,
    Node,
    ValueType,
    layout,
    leaf_paths,
    to_text,
)
from filebridge.formats.problems import (
    expected_elements,
    model_errors,
    schema_attribute,
    schema_message,
)
from filebridge.formats.schema_files import xml_schema
from filebridge.model import (
    DOCUMENT_TYPES,
    DOCUMENT_VERSION,
    XML_NAMESPACE,
    Document,
    document_type,
)

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class XmlCodec(Codec):
    """XML documents in ``urn:filebridge:exchange:1``; one document per file."""

    extension = "xml"

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size

    def encode(self, documents: Sequence[Document]) -> bytes:
        if len(documents) != 1:
            raise ValueError(f"an XML file holds exactly one document, not {len(documents)}")
        document = documents[0]
        root = build_tree(document)
        problems = check_schema(type(document), root).problems
        if problems:
            raise InvalidDocument(
                f"{type(document).__name__} {document.message_id} would not be valid XML",
                problems,
            )
        body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
        return _DECLARATION + body

    def decode(self, data: bytes) -> list[Document]:
        root = parse_untrusted_xml(data, self.max_size)
        kind = root_document_type(root)
        findings = check_schema(kind, root)
        problems = list(findings.problems)
        try:
            document = kind.model_validate(read_tree(kind, root))
        except ValidationError as exc:
            for error in model_errors(exc, leaf_paths(kind)):
                field, line = locate(kind, root, error.loc)
                if field not in findings.covered:
                    problems.append(Problem(error.message, field=field, line=line))
        else:
            if not problems:
                return [document]
        problems.sort(key=lambda p: p.line or 0)
        raise InvalidDocument(f"{kind.root_element} is not valid", problems)


def root_document_type(root: etree._Element) -> type[Document]:
    """The document type named by the root element; InvalidDocument for anything else."""
    name = etree.QName(root)
    roots = ", ".join(cls.root_element for cls in DOCUMENT_TYPES)
    if name.namespace != XML_NAMESPACE:
        where = f"namespace {name.namespace!r}" if name.namespace else "no namespace"
        raise InvalidDocument(
            f"root element {name.localname} is in {where}",
            [Problem(f"expected xmlns=\"{XML_NAMESPACE}\" on the root element",
                     field=name.localname, line=source_line(root))],
        )
    try:
        return document_type(name.localname)
    except KeyError:
        raise InvalidDocument(
            f"unknown root element {name.localname}",
            [Problem(f"expected one of {roots}", field=name.localname, line=source_line(root))],
        ) from None


def build_tree(document: Document) -> etree._Element:
    """The document as an element tree, in schema order, optional fields left out."""
    root = etree.Element(etree.QName(XML_NAMESPACE, document.root_element),
                         nsmap=cast(Any, {None: XML_NAMESPACE}))
    root.set("version", DOCUMENT_VERSION)
    _write(root, layout(type(document)), document)
    return root


@cache
def _tag(name: str) -> str:
    """``{urn:filebridge:exchange:1}Name``: made once per element name."""
    return f"{{{XML_NAMESPACE}}}{name}"


def _write(parent: etree._Element, nodes: tuple[Node, ...], model: BaseModel) -> None:
    for node in nodes:
        value = getattr(model, node.name)
        if value is None:
            continue
        element = etree.SubElement(parent, _tag(node.element))
        if node.is_list:
            for item in value:
                child = etree.SubElement(element, _tag(node.item_element or ""))
                if node.value is not None:
                    child.text = to_text(item)
                else:
                    _write(child, node.parts, item)
        elif node.value is None:
            _write(element, node.parts, value)
        else:
            element.text = to_text(value)


def read_tree(document: type[Document], root: etree._Element) -> dict[str, object]:
    """The elements' texts as a nested dict for the model; unknown elements are skipped
    (the XSD reports them), so the model can still report its own findings."""
    return _read(layout(document), root)


def _read(nodes: tuple[Node, ...], parent: etree._Element) -> dict[str, object]:
    data: dict[str, object] = {}
    for node in nodes:
        element = _child(parent, node.element)
        if element is None:
            continue
        if node.is_list:
            items = _children(element, node.item_element or "")
            if node.value is not None:
                data[node.name] = [_text(node.value, item) for item in items]
            else:
                data[node.name] = [_read(node.parts, item) for item in items]
        elif node.value is None:
            data[node.name] = _read(node.parts, element)
        else:
            data[node.name] = _text(node.value, element)
    return data


def _text(value_type: ValueType, element: etree._Element) -> str:
    text = element.text or ""
    return text.strip() if value_type.kind in COLLAPSED_KINDS else text


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    tag = f"{{{XML_NAMESPACE}}}{name}"
    return [child for child in parent if child.tag == tag]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    found = _children(parent, name)
    return found[0] if found else None


@dataclass(frozen=True)
class SchemaFindings:
    """The XSD's verdict: every problem, and the element paths those problems cover.

    A path is covered when the XSD reported a problem with that element, or reported it
    missing ("Expected is ( X )"); the model does not report a covered path again.
    """

    problems: list[Problem] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)


def check_schema(document: type[Document], root: etree._Element) -> SchemaFindings:
    """Validate ``root`` against the document type's XSD; every error with line and path."""
    schema = xml_schema(document)
    findings = SchemaFindings()
    if schema.validate(root):
        return findings
    for entry in log_entries(schema.error_log):
        element = _element_at(root, entry.path)
        path = _element_path(document, root, element) if element is not None else None
        attribute = schema_attribute(entry.message)
        line = entry.line or source_line(element)
        field_name = f"{path}/@{attribute}" if attribute and path else path
        findings.problems.append(Problem(schema_message(entry.message), field=field_name,
                                         line=line))
        expected = expected_elements(entry.message)
        if path and not attribute and not expected:
            findings.covered.add(path)
        if expected and element is not None:
            parent = element if "Missing child" in entry.message else element.getparent()
            base = _element_path(document, root, parent)
            prefix = "" if base == document.root_element else base + "/"
            findings.covered.update(prefix + name for name in expected)
    return findings


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    """The element a libxml2 error path (``/*/*[6]/*[2]``, ``/fb:OrderInstruction/fb:Site``)
    points at, or None when it cannot be found."""
    if not path:
        return None
    prefixes: dict[str, str] = {}
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    try:
        found = root.getroottree().xpath(path, namespaces=prefixes)
    except etree.XPathError:
        return None
    first = found[0] if isinstance(found, list) and found else None
    return first if isinstance(first, etree._Element) else None


def _element_path(
    document: type[Document], root: etree._Element, element: etree._Element | None
) -> str:
    """``Container/Quantity`` or ``Weighings/Weighing[2]/Kg``; the root's own name for the
    root itself."""
    if element is None or element is root:
        return document.root_element
    chain = [element, *element.iterancestors()]
    chain = chain[: chain.index(root)] if root in chain else chain
    nodes = layout(document)
    parts: list[str] = []
    listing: Node | None = None
    for item in reversed(chain):
        name = etree.QName(item).localname
        if listing is not None:
            parent = item.getparent()
            siblings = _children(parent, name) if parent is not None else []
            index = siblings.index(item) + 1 if item in siblings else 1
            parts.append(f"{name}[{index}]")
            nodes, listing = listing.parts, None
            continue
        parts.append(name)
        node = next((n for n in nodes if n.element == name), None)
        if node is None:
            nodes = ()
        elif node.is_list:
            listing = node
        else:
            nodes = node.parts
    return "/".join(parts)


def locate(
    document: type[Document], root: etree._Element, loc: tuple[str | int, ...]
) -> tuple[str, int | None]:
    """The element path and line of a model error's ``loc``; a missing element is reported
    at its parent's line."""
    element: etree._Element | None = root
    line = source_line(root)
    nodes = layout(document)
    parts: list[str] = []
    position = 0
    while position < len(loc):
        name = loc[position]
        node = next((n for n in nodes if n.name == name), None)
        if node is None:
            break
        parts.append(node.element)
        element = _child(element, node.element) if element is not None else None
        if node.is_list and position + 1 < len(loc) and isinstance(loc[position + 1], int):
            index = int(loc[position + 1])
            parts.append(f"{node.item_element}[{index + 1}]")
            items = _children(element, node.item_element or "") if element is not None else []
            element = items[index] if index < len(items) else None
            position += 1
        if element is not None:
            line = source_line(element)
        nodes = node.parts
        position += 1
    return ("/".join(parts) or document.root_element), line
