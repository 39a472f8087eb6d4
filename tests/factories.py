"""Valid documents to start tests from; override any field by keyword."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from filebridge.model import Acknowledgement, Order, OrderResult

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def make_order(order_id: str = "ORD-1001", **overrides: Any) -> Order:
    data: dict[str, Any] = {
        "message_id": f"MSG-{order_id}-1",
        "order_id": order_id,
        "sequence": 1,
        "created_at": T0,
        "action": "empty",
        "customer": {"customer_id": "CUST-77", "name": "Bakeriet på Hjørnet AS"},
        "site": {
            "site_id": "SITE-12",
            "street": "Storgata 12",
            "postal_code": "0155",
            "city": "Oslo",
            "country_code": "NO",
            "latitude": Decimal("59.9139"),
            "longitude": Decimal("10.7522"),
        },
        "container": {
            "type_code": "660L",
            "container_id": "CNT-4711",
            "quantity": 1,
            "fraction": {"code": "MIXED", "ewc_code": "20 03 01", "hazardous": False},
        },
        "window": {"earliest": T0 + timedelta(days=1), "latest": T0 + timedelta(days=1, hours=6)},
        "contact": {"name": "Kari Nordmann", "phone": "+47 22 33 44 55"},
        "notes": "Gate code 1234; container behind the bakery.",
    }
    data.update(overrides)
    return Order.model_validate(data)


def make_ack(order: Order, status: str = "accepted", **overrides: Any) -> Acknowledgement:
    data: dict[str, Any] = {
        "message_id": f"ACK-{order.message_id}",
        "ref_message_id": order.message_id,
        "order_id": order.order_id,
        "status": status,
        "created_at": T0 + timedelta(minutes=5),
    }
    if status == "rejected":
        data.update(reason_code="NO-CAPACITY", reason_text="No truck available that day.")
    else:
        data.update(partner_reference="RET-889", planned_date=(T0 + timedelta(days=1)).date())
    data.update(overrides)
    return Acknowledgement.model_validate(data)


def make_result(order: Order, outcome: str = "completed", **overrides: Any) -> OrderResult:
    data: dict[str, Any] = {
        "message_id": f"RES-{order.order_id}",
        "order_id": order.order_id,
        "outcome": outcome,
        "completed_at": T0 + timedelta(days=1, hours=2),
    }
    if outcome == "completed":
        data["weighings"] = [{"fraction_code": "MIXED", "kg": Decimal("84.250")}]
        data["container_ids"] = [order.container.container_id or "CNT-NEW"]
    else:
        data.update(deviation_code="BLOCKED", deviation_text="Container blocked by a parked car.")
    data.update(overrides)
    return OrderResult.model_validate(data)
