"""Order rows: what a step changed is what a partial save writes."""

from __future__ import annotations

from datetime import timedelta

from filebridge.model import OrderRow, OrderState, changed_fields
from tests.factories import T0, make_order


def row() -> OrderRow:
    return OrderRow(order_id="ORD-1", partner="retura", state=OrderState.SENT,
                    order=make_order("ORD-1"), created_at=T0, updated_at=T0, version=3)


def test_the_changed_fields_are_those_whose_values_differ() -> None:
    before = row()
    after = before.model_copy(update={
        "state": OrderState.ACKNOWLEDGED, "acknowledged_at": T0 + timedelta(minutes=5),
        "updated_at": T0 + timedelta(minutes=5), "partner": "retura", "version": 9})
    # the version is the journal's own business, an unchanged value is no change
    assert changed_fields(before, after) == ["state", "updated_at", "acknowledged_at"]


def test_a_new_but_equal_document_is_no_change_and_a_different_one_is() -> None:
    before = row()
    same = before.model_copy(update={"order": make_order("ORD-1")})
    other = before.model_copy(update={"order": make_order("ORD-1", sequence=2)})
    assert changed_fields(before, same) == []
    assert changed_fields(before, other) == ["order"]
