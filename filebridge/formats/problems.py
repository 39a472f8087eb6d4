"""Turning library error reports into plain ``Problem`` messages a partner can act on.

libxml2 names elements as ``{urn:filebridge:exchange:1}Quantity`` and lists all 249
country codes when one is wrong; pydantic speaks of ``string_pattern_mismatch``. Both are
cut down here to one sentence each; *where* (field path and line) is added by the codec
that knows the file's shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from filebridge.model import XML_NAMESPACE

_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(, attribute '[^']*')?: ")
_FACET_PREFIX = re.compile(r"^\[facet '[^']*'\] ")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")
_LONG_SET = re.compile(r"\{('[^']*', ){12,}'[^']*'\}")
_QUOTED_NAME = "{" + XML_NAMESPACE + "}"
_MAX_SHOWN = 60


def schema_message(message: str) -> str:
    """A libxml2 schema error without the element prefix, the namespace and endless sets."""
    message = _ELEMENT_PREFIX.sub("", message.strip())
    message = _FACET_PREFIX.sub("", message)
    message = message.replace(_QUOTED_NAME, "")
    message = message.replace("is not an element of the set", "is not one of")
    message = _LONG_SET.sub(
        lambda match: f"the {match.group(0).count(',') + 1} values listed in the schema",
        message,
    )
    return message


def schema_attribute(message: str) -> str | None:
    """The attribute a libxml2 schema error is about, if any (``version``)."""
    match = _ELEMENT_PREFIX.match(message.strip())
    if match and match.group(1):
        return match.group(1).split("'")[1]
    return None


def expected_elements(message: str) -> list[str]:
    """The local names in libxml2's ``Expected is ( X )`` / ``Expected is one of ( X, Y )``."""
    match = _EXPECTED.search(message)
    if not match:
        return []
    names = [name.strip() for name in match.group(1).split(",")]
    return [name.rsplit("}", 1)[-1] for name in names if name]


@dataclass(frozen=True)
class ModelError:
    """One pydantic error: where in the model (``loc``), and what, in plain words."""

    loc: tuple[str | int, ...]
    message: str


def model_errors(exc: ValidationError, fields: Sequence[tuple[str, ...]] = ()) -> list[ModelError]:
    """The errors of a validation, each with its ``loc`` narrowed to the one field its
    message names when it comes from a rule on a whole group (``fields``: every leaf
    path of the document), so that "container.container_id is required for action
    'empty'" points at ``container.container_id``, not at the whole order.

    Only identifiers count as naming a field (a dotted path or a snake_case name, relative
    to the group), never a plain word: "latest must be after earliest" stays on the group.
    """
    found = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        message = _model_message(error)
        if error["type"] == "value_error":
            loc = _named_field(loc, message, fields) or loc
        found.append(ModelError(loc, message))
    return found


def _named_field(
    loc: tuple[str | int, ...], message: str, fields: Sequence[tuple[str, ...]]
) -> tuple[str, ...] | None:
    named = []
    for path in fields:
        if tuple(path[: len(loc)]) != loc or len(path) <= len(loc):
            continue
        relative = ".".join(path[len(loc) :])
        if "." not in relative and "_" not in relative:
            continue
        if re.search(rf"(?<![\w.]){re.escape(relative)}(?![\w])", message):
            named.append(path)
    return named[0] if len(named) == 1 else None


def shown(value: str) -> str:
    """A value quoted for a message, cut short when long."""
    if len(value) > _MAX_SHOWN:
        value = value[:_MAX_SHOWN] + "…"
    return repr(value)


def _model_message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        return f"{shown(value)} does not match the pattern {error['ctx']['pattern']}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if isinstance(value, str):
        message += f" (got {shown(value)})"
    return message
