"""Alerts, order rows and notices to start notifier tests from; override any field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from filebridge.config import PartnerConfig
from filebridge.model import Alert, AlertKind, OrderRow, OrderState
from filebridge.notify import AlertNotice, notice_for, partner_where
from tests.factories import T0, make_order


def make_alert(kind: AlertKind = AlertKind.ACK_OVERDUE, **overrides: Any) -> Alert:
    data: dict[str, Any] = {
        "id": 12,
        "kind": kind,
        "partner": "retura",
        "order_id": "ORD-1001",
        "opened_at": T0 + timedelta(minutes=15),
        "count": 1,
        "message": "no acknowledgement for ORDER_ORD-1001_1.xml within 15m",
        "last_error": None,
    }
    data.update(overrides)
    if data["order_id"] and "orders" not in overrides:
        data.update(orders=1, order_ids=(data["order_id"],))
    return Alert.model_validate(data)


def make_order_row(**overrides: Any) -> OrderRow:
    data: dict[str, Any] = {
        "order_id": "ORD-1001",
        "partner": "retura",
        "state": OrderState.SENT,
        "order": make_order("ORD-1001"),
        "created_at": T0,
        "updated_at": T0,
        "file_name": "ORDER_ORD-1001_1.xml",
        "file_path": "to_partner/orders/ORDER_ORD-1001_1.xml",
        "sent_at": T0,
    }
    data.update(overrides)
    return OrderRow.model_validate(data)


def sftp_partner(**overrides: Any) -> PartnerConfig:
    data: dict[str, Any] = {
        "name": "retura",
        "transport": "sftp",
        "host": "sftp.example.com",
        "port": 2222,
        "username": "increo",
        "key_file": "~/.ssh/id_ed25519",
        "known_hosts": "~/.ssh/known_hosts",
        "root": "/upload",
        "orders_dir": "in/orders",
    }
    data.update(overrides)
    return PartnerConfig.model_validate(data)


def make_notice(
    kind: AlertKind = AlertKind.ACK_OVERDUE,
    level: int = 1,
    last_error: str | None = "sftp.example.com:2222: connection reset by peer",
    **alert_overrides: Any,
) -> AlertNotice:
    alert = make_alert(kind, **alert_overrides)
    partner = sftp_partner()
    return notice_for(
        alert,
        level,
        partner_where(partner, kind),
        last_error,
        order=make_order_row() if alert.order_id else None,
        partner=partner,
    )
