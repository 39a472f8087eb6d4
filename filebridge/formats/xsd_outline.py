"""A flat outline of a published XSD: every element with its path, type and documentation.

The CSV specs take their column descriptions from here, so a partner reads the same
words in ``order.xsd`` and ``order.csv.json``; the tests use it to prove the schemas
declare exactly the models' fields, in the models' order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lxml import etree

from filebridge.formats.schema_files import schemas_dir, xsd_path
from filebridge.model import Document

XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class XsdElement:
    """One element declaration as it appears inside its document."""

    path: str  # "Container/Fraction/EwcCode"; the root element's own name for the root
    name: str
    type_name: str | None  # the named simple or complex type; None when anonymous
    min_occurs: int
    max_occurs: int | None  # None: unbounded
    documentation: str


@cache
def outline(document: type[Document]) -> tuple[XsdElement, ...]:
    """Every element of the document type's schema, depth first, in declaration order."""
    schema = _load(xsd_path(document).name)
    types = {**_named_types(_load("common.xsd")), **_named_types(schema)}
    root = next(
        el for el in schema.iterchildren(f"{XS}element") if el.get("name") == document.root_element
    )
    found = [_declared(root, document.root_element, min_occurs=1)]
    _walk(_content(root, types), types, "", found, optional=False)
    return tuple(found)


def simple_types() -> dict[str, etree._Element]:
    """The named simple types of ``common.xsd``, by name."""
    return {
        el.get("name", ""): el
        for el in _load("common.xsd").iterchildren(f"{XS}simpleType")
    }


def documentation(element: etree._Element) -> str:
    """The ``xs:documentation`` text of a declaration, whitespace collapsed."""
    texts = element.xpath("./xs:annotation/xs:documentation/text()", namespaces={"xs": XS[1:-1]})
    return " ".join(" ".join(str(t) for t in texts).split()) if isinstance(texts, list) else ""


@cache
def _load(file_name: str) -> etree._Element:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_comments=True)
    return etree.parse(str(schemas_dir() / file_name), parser).getroot()


def _named_types(schema: etree._Element) -> dict[str, etree._Element]:
    return {el.get("name", ""): el for el in schema.iterchildren(f"{XS}complexType")}


def _content(
    declaration: etree._Element, types: dict[str, etree._Element]
) -> etree._Element | None:
    """The complexType describing an element's children, named or anonymous."""
    anonymous = declaration.find(f"{XS}complexType")
    if anonymous is not None:
        return anonymous
    return types.get(declaration.get("type", ""))


def _walk(
    complex_type: etree._Element | None,
    types: dict[str, etree._Element],
    prefix: str,
    found: list[XsdElement],
    optional: bool,
) -> None:
    if complex_type is None:
        return
    for particle in complex_type:
        if particle.tag == f"{XS}sequence":
            inner_optional = optional or particle.get("minOccurs") == "0"
            _walk(particle, types, prefix, found, inner_optional)
        elif particle.tag == f"{XS}element":
            name = particle.get("name", "")
            path = f"{prefix}{name}"
            min_occurs = 0 if optional else int(particle.get("minOccurs", "1"))
            found.append(_declared(particle, path, min_occurs))
            _walk(_content(particle, types), types, path + "/", found, optional=False)


def _declared(declaration: etree._Element, path: str, min_occurs: int) -> XsdElement:
    max_occurs = declaration.get("maxOccurs", "1")
    return XsdElement(
        path=path,
        name=declaration.get("name", ""),
        type_name=declaration.get("type"),
        min_occurs=min_occurs,
        max_occurs=None if max_occurs == "unbounded" else int(max_occurs),
        documentation=documentation(declaration),
    )
