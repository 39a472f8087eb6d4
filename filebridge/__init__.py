"""filebridge: exchange work orders with partners through files, and know what happened.

The public API::

    from filebridge import Bridge, Order
    bridge = Bridge.from_config("filebridge.toml")
    receipt = bridge.submit(order, partner="retura")
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from filebridge.errors import (
    ConfigError,
    DocumentError,
    FileBridgeError,
    HostileDocument,
    HostKeyMismatch,
    InvalidDocument,
    InvalidOrder,
    JournalError,
    NotifyError,
    OrderNotFound,
    PartnerUnreachable,
    TransportError,
)
from filebridge.model import (
    Acknowledgement,
    Alert,
    ExchangeRecord,
    Order,
    OrderResult,
    OrderState,
    OrderView,
    Receipt,
)

# A library stays silent unless the application configures logging (``filebridge run`` does).
logging.getLogger("filebridge").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from filebridge.bridge import Bridge

__all__ = [
    "Acknowledgement",
    "Alert",
    "Bridge",
    "ConfigError",
    "DocumentError",
    "ExchangeRecord",
    "FileBridgeError",
    "HostKeyMismatch",
    "HostileDocument",
    "InvalidDocument",
    "InvalidOrder",
    "JournalError",
    "NotifyError",
    "Order",
    "OrderNotFound",
    "OrderResult",
    "OrderState",
    "OrderView",
    "PartnerUnreachable",
    "Receipt",
    "TransportError",
]


def __getattr__(name: str) -> Any:
    # Bridge pulls in the engine and adapters; importing the models alone stays light.
    if name == "Bridge":
        from filebridge.bridge import Bridge

        return Bridge
    raise AttributeError(f"module 'filebridge' has no attribute {name!r}")
