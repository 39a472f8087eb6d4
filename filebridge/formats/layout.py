"""The layout of a document on the wire, read from its pydantic model.

Both codecs walk the same tree of ``Node`` objects: the XML codec turns each node into an
element (``customer_id`` -> ``CustomerId``, in field order), the CSV codec into a column.
Every leaf carries a ``ValueType`` named after the simple type in ``schemas/common.xsd``
(``SafeId``, ``Quantity``, ``Timestamp``, ...), so a model field whose type has no
counterpart in the schemas fails loudly here instead of being written unchecked.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, Field
from pydantic.fields import FieldInfo

from filebridge.model import Document, values

# The lexical forms the XSD built-in types accept (after whitespace collapsing), narrowed
# where the schemas narrow them: four-digit years, and timestamps that carry an offset.
LEXICAL: Mapping[str, str] = {
    "integer": r"^[+-]?[0-9]+$",
    "decimal": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    "boolean": r"^(true|false|1|0)$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "datetime": (
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
        r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
    ),
}
COLLAPSED_KINDS = frozenset(LEXICAL)
"""Kinds whose text has surrounding whitespace removed before checking (XSD ``collapse``)."""

FREE_TEXT_TYPES = frozenset({"ShortText", "FreeText"})
"""Value types written by people: the only ones the CSV formula guard touches."""


@dataclass(frozen=True)
class ValueType:
    """One simple type of the schemas: its name there, its kind, and its constraints."""

    name: str
    kind: str  # "string" | "integer" | "decimal" | "boolean" | "date" | "datetime" | "enum"
    constraints: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()

    @property
    def is_free_text(self) -> bool:
        return self.name in FREE_TEXT_TYPES

    @property
    def lexical(self) -> str | None:
        """The pattern the text must match before it is handed to the model."""
        if self.kind in LEXICAL:
            return LEXICAL[self.kind]
        pattern = self.constraints.get("pattern")
        return str(pattern) if pattern else None


@dataclass(frozen=True)
class Node:
    """One model field: an element in XML; a column (or part of one) in CSV."""

    name: str  # the model field, snake_case
    element: str  # the XML element, PascalCase
    required: bool
    value: ValueType | None = None  # leaves, and the items of a list of values
    parts: tuple[Node, ...] = ()  # groups, and the fields of each item of a list of groups
    model: type[BaseModel] | None = None  # groups and lists of groups
    item_element: str | None = None  # lists only

    @property
    def is_list(self) -> bool:
        return self.item_element is not None

    @property
    def is_group(self) -> bool:
        return self.model is not None and not self.is_list


def pascal(name: str) -> str:
    """``customer_id`` -> ``CustomerId``."""
    return "".join(word[:1].upper() + word[1:] for word in name.split("_"))


def singular(element: str) -> str:
    """The item element of a list element: ``Weighings`` -> ``Weighing``."""
    if not element.endswith("s"):
        raise TypeError(f"list element {element!r} must be a plural ending in 's'")
    return element[:-1]


@cache
def layout(document: type[Document]) -> tuple[Node, ...]:
    """The nodes of a document type, in XSD element order."""
    return _nodes(document)


@cache
def leaf_paths(document: type[Document]) -> tuple[tuple[str, ...], ...]:
    """The model path of every value of a document type (lists count as one value)."""
    found: list[tuple[str, ...]] = []

    def walk(nodes: tuple[Node, ...], path: tuple[str, ...]) -> None:
        for node in nodes:
            if node.is_group:
                walk(node.parts, (*path, node.name))
            else:
                found.append((*path, node.name))

    walk(layout(document), ())
    return tuple(found)


def node_at(document: type[Document], path: tuple[str, ...]) -> Node:
    """The node at a model path such as ``("container", "fraction", "code")``."""
    nodes = layout(document)
    found: Node | None = None
    for name in path:
        found = next((n for n in nodes if n.name == name), None)
        if found is None:
            raise KeyError(".".join(path))
        nodes = found.parts
    if found is None:
        raise KeyError("")
    return found


def to_text(value: object) -> str:
    """A model value as the text both formats write; stable for equal values."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is not None and not offset:
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _decimal_text(value: Decimal) -> str:
    """Fixed-point, no exponent, no trailing zeros, no negative zero: 84.250 -> ``84.25``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _nodes(model: type[BaseModel]) -> tuple[Node, ...]:
    return tuple(_node(name, info) for name, info in model.model_fields.items())


def _node(name: str, info: FieldInfo) -> Node:
    element = pascal(name)
    required = info.is_required()
    annotation = _without_none(info.annotation)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        item_element = singular(element)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return Node(name, element, required, parts=_nodes(item), model=item,
                        item_element=item_element)
        return Node(name, element, required, value=value_type(item), item_element=item_element)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Node(name, element, required, parts=_nodes(annotation), model=annotation)
    return Node(name, element, required, value=value_type(info.rebuild_annotation()))


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _flatten(annotation: Any) -> tuple[Any, dict[str, Any]]:
    """A type and every constraint attached to it, however pydantic nested them."""
    base = _without_none(annotation)
    found: dict[str, Any] = {}
    if get_origin(base) is Annotated:
        base, *metadata = get_args(base)
        _collect(metadata, found)
        inner_base, inner = _flatten(base)
        return inner_base, {**inner, **found}
    return base, found


_CONSTRAINT_NAMES = (
    "pattern", "min_length", "max_length", "ge", "le", "gt", "lt", "max_digits", "decimal_places",
)


def _collect(metadata: list[Any], found: dict[str, Any]) -> None:
    for item in metadata:
        if isinstance(item, FieldInfo):
            _collect(list(item.metadata), found)
            continue
        validator = getattr(item, "func", None)
        if validator is not None:
            found["validator"] = validator
        for key in _CONSTRAINT_NAMES:
            value = getattr(item, key, None)
            if value is not None:
                found[key] = value


_NAMED_TYPES: dict[str, Any] = {
    "SafeId": values.SafeId,
    "OtherId": values.OtherId,
    "ShortText": values.ShortText,
    "FreeText": values.FreeText,
    "EwcCode": values.EwcCode,
    "Phone": values.Phone,
    "PostalCode": values.PostalCode,
    "TypeCode": values.TypeCode,
    "CountryCode": values.CountryCode,
    "Quantity": values.Quantity,
    "Kilograms": values.Kilograms,
    "Latitude": values.Latitude,
    "Longitude": values.Longitude,
    "Sequence": Annotated[int, Field(ge=1)],
    "Timestamp": AwareDatetime,
    "Date": date,
    "Boolean": bool,
}
_KINDS: dict[Any, str] = {
    str: "string", int: "integer", Decimal: "decimal", bool: "boolean",
    date: "date", AwareDatetime: "datetime",
}


@cache
def _known_types() -> list[ValueType]:
    known = []
    for name, annotation in _NAMED_TYPES.items():
        base, constraints = _flatten(annotation)
        known.append(ValueType(name, _KINDS[base], constraints))
    return known


def value_type(annotation: Any) -> ValueType:
    """The schema type of a model field's annotation; TypeError when the schemas lack one."""
    base, constraints = _flatten(annotation)
    if isinstance(base, type) and issubclass(base, Enum):
        return ValueType(base.__name__, "enum", {}, tuple(str(m.value) for m in base))
    kind = _KINDS.get(base)
    for known in _known_types():
        if known.kind == kind and dict(known.constraints) == constraints:
            return known
    raise TypeError(f"no schema type for {annotation!r}: add one to schemas/common.xsd")
