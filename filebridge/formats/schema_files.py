"""Where the published schemas and samples live, in a checkout and in an installed wheel.

The files partners read (``schemas/*.xsd``, ``schemas/*.csv.json``, ``samples/``) are the
same files the codecs use, never a copy: a wheel carries them as ``filebridge/_schemas``
and ``filebridge/_samples`` (see ``pyproject.toml``); a checkout (or an editable install)
has them at the top of the repository.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from filebridge.model import Document

_PACKAGE = Path(__file__).resolve().parent.parent  # .../filebridge
_SCHEMA_FILES = {"order": "order.xsd", "ack": "ack.xsd", "result": "result.xsd"}


def _locate(packaged: str, checkout: str) -> Path:
    for candidate in (_PACKAGE / packaged, _PACKAGE.parent / checkout):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {checkout}/ folder (looked in {_PACKAGE / packaged} "
        f"and {_PACKAGE.parent / checkout}); reinstall filebridge"
    )


@cache
def schemas_dir() -> Path:
    """The folder holding order.xsd, ack.xsd, result.xsd, common.xsd and the CSV specs."""
    return _locate("_schemas", "schemas")


@cache
def samples_dir() -> Path:
    """The folder holding the example documents and ``filebridge.toml``."""
    return _locate("_samples", "samples")


def xsd_path(document: type[Document]) -> Path:
    return schemas_dir() / _SCHEMA_FILES[document.kind]


def csv_spec_path(document: type[Document]) -> Path:
    return schemas_dir() / f"{document.kind}.csv.json"


_compiled = threading.local()


def xml_schema(document: type[Document]) -> etree.XMLSchema:
    """The compiled XSD of a document type.

    One per thread: an ``XMLSchema`` keeps the error log of its last validation on
    itself, so two threads sharing one would read each other's errors.
    """
    cache_: dict[str, etree.XMLSchema] = _compiled.__dict__.setdefault("schemas", {})
    schema = cache_.get(document.kind)
    if schema is None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        tree = etree.parse(str(xsd_path(document)), parser)
        schema = etree.XMLSchema(tree)
        cache_[document.kind] = schema
    return schema


@cache
def csv_spec(document: type[Document]) -> dict[str, Any]:
    """The published CSV column spec of a document type (``schemas/<kind>.csv.json``)."""
    data: dict[str, Any] = json.loads(csv_spec_path(document).read_text(encoding="utf-8"))
    return data
