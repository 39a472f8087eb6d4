"""Records in, rows out: the one place that turns models into bound values and back.

Every instant is stored in UTC and comes back timezone-aware UTC, whatever the dialect
hands over, so the engine can compare journal times with its clock without thinking.
A naive datetime (no tzinfo) is taken to already be UTC: filebridge's clocks are always
aware, and refusing one would turn a harmless slip into a lost write.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from filebridge.model import Order, OrderRow

Model = TypeVar("Model", bound=BaseModel)


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are read as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_iso(value: datetime) -> str:
    """Fixed-width ISO text (``2026-11-28T10:00:00.000000+00:00``): sorts as it compares."""
    return to_utc(value).isoformat(timespec="microseconds")


@cache
def time_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold a datetime (optional or not)."""
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        optional = get_origin(annotation) in (Union, types.UnionType)
        if annotation is datetime or (optional and datetime in get_args(annotation)):
            names.add(name)
    return frozenset(names)


class RowCodec:
    """Binds model fields as a dialect wants them and rebuilds models from fetched rows.

    The dialect supplies four small functions: how an instant and the Order document are
    written, and how they are read back.
    """

    def __init__(
        self,
        encode_time: Callable[[datetime], Any],
        decode_time: Callable[[Any], datetime],
        encode_document: Callable[[Order], Any],
        decode_document: Callable[[Any], Order],
    ) -> None:
        self.encode_time = encode_time
        self.decode_time = decode_time
        self.encode_document = encode_document
        self.decode_document = decode_document

    def value(self, value: Any) -> Any:
        """One Python value as a bound parameter (enums by value, instants in UTC)."""
        if isinstance(value, datetime):
            return self.encode_time(value)
        if isinstance(value, Enum):
            return value.value
        return value

    def params(self, record: BaseModel, columns: tuple[str, ...]) -> list[Any]:
        """The values of ``columns`` taken from ``record``, ready to bind."""
        return [self.value(getattr(record, name)) for name in columns]

    def order_params(self, row: OrderRow, columns: tuple[str, ...]) -> list[Any]:
        """Like ``params``, with the Order document written into the ``document`` column."""
        return [
            self.encode_document(row.order)
            if name == "document"
            else self.value(getattr(row, name))
            for name in columns
        ]

    def record(self, model: type[Model], row: Mapping[str, Any]) -> Model:
        """Rebuild a ``model`` from a fetched row (extra columns such as ``seq`` are ignored)."""
        data = {name: row[name] for name in model.model_fields if name in row}
        for name in time_fields(model):
            if data.get(name) is not None:
                data[name] = self.decode_time(data[name])
        return model.model_validate(data)

    def order_row(self, row: Mapping[str, Any]) -> OrderRow:
        """Rebuild an ``OrderRow``; its ``order`` comes from the ``document`` column."""
        data = dict(row)
        data["order"] = self.decode_document(data.pop("document"))
        return self.record(OrderRow, data)
