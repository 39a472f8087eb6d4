"""Instruction files: their contract names, and rendering an order's file once.

An order's file is rendered once (at submit, or at dispatch for CSV batches and
resends) and its name, bytes and temp-name token are journalled with it, so every
retry, and the recovery after a crash, sends the same name and the same bytes.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from filebridge.formats.base import Codec
from filebridge.model import OrderRow


def order_file_name(order_id: str, sequence: int, extension: str) -> str:
    """``ORDER_<OrderId>_<Sequence>.<xml|csv>`` (the contract's file name)."""
    return f"ORDER_{order_id}_{sequence}.{extension}"


def batch_file_name(now: datetime) -> str:
    """``ORDERS_<batch id>.csv``: time-ordered and unique."""
    return f"ORDERS_{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}.csv"


def with_rendered_file(row: OrderRow, codec: Codec) -> OrderRow:
    """The row with its instruction file rendered: name, bytes, and the temp-name token.
    Rendered once (at submit, or at dispatch for batches and resends): every retry
    sends the same name and bytes."""
    return row.model_copy(update={
        "file_name": order_file_name(row.order_id, row.order.sequence, codec.extension),
        "file_content": codec.encode([row.order]),
        "upload_token": secrets.token_hex(8), "staged_at": None})
