"""``filebridge alerts``: incidents listed, filtered, shown with their orders, and
acknowledged several at a time; orders of a partner no longer configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.model import AlertKind
from tests.cli.conftest import CONFIG, Invoke, as_json
from tests.factories import make_order

ALERT_JSON_KEYS = ["id", "kind", "partner", "order_id", "orders", "order_ids", "opened_at",
                   "level", "count", "message", "acknowledged_by", "acknowledged_at",
                   "resolved_at"]
TWO_PARTNERS = CONFIG + """
[partners.depot]
transport = "local"
root = "./drop/depot"
"""


@pytest.fixture
def incidents(config_file: Path) -> Iterator[dict[str, int]]:
    """Three open alerts: hauler's three late orders, hauler's one failed send, and a
    refused file of depot."""
    config_file.write_text(TWO_PARTNERS, encoding="utf-8")
    bridge = Bridge.from_config(config_file)
    try:
        bridge.submit_many([make_order(f"ORD-{n}") for n in (1, 2, 3)], partner="hauler")
        late = bridge.alerts.open_for_orders(
            AlertKind.ACK_OVERDUE, "hauler", ["ORD-1", "ORD-2", "ORD-3"], "late").alert
        failed = bridge.alerts.open(AlertKind.SEND_FAILED, "hauler", "ORD-3", "failed",
                                    error="permission denied").alert
        refused = bridge.alerts.open(AlertKind.QUARANTINED_FILE, "depot", None,
                                     "latest: bad.xml").alert
        yield {"late": late.id, "failed": failed.id, "refused": refused.id}
    finally:
        bridge.close()


def test_alerts_lists_incidents_with_their_orders_in_the_contract_fields(
        fb: Invoke, incidents: dict[str, int]) -> None:
    listed = as_json(fb("alerts", "--json"))
    assert [list(alert) for alert in listed] == [ALERT_JSON_KEYS] * 3
    by_id = {alert["id"]: alert for alert in listed}
    late, failed, refused = (by_id[incidents[key]] for key in ("late", "failed", "refused"))
    assert (late["order_id"], late["orders"], late["order_ids"]) == (
        None, 3, ["ORD-1", "ORD-2", "ORD-3"])
    assert (failed["order_id"], failed["orders"], failed["order_ids"]) == ("ORD-3", 1, ["ORD-3"])
    assert (refused["order_id"], refused["orders"], refused["order_ids"]) == (None, 0, [])

    # the table says how many orders, or the one order
    table = fb("alerts").stdout
    assert "ack_overdue" in table and "ORD-3" in table and "alerts show" in table


def test_alerts_filters_by_partner_kind_and_newest(
        fb: Invoke, incidents: dict[str, int]) -> None:
    def ids(*args: str) -> list[int]:
        return [alert["id"] for alert in as_json(fb("alerts", "--json", *args))]

    assert ids("--partner", "hauler") == [incidents["failed"], incidents["late"]]
    assert ids("--kind", "quarantined_file") == [incidents["refused"]]
    assert ids("--partner", "hauler", "--kind", "ack_overdue") == [incidents["late"]]
    assert ids("--last", "1") == [incidents["refused"]]
    assert ids("--partner", "nobody") == []
    assert fb("alerts", "--kind", "nonsense").exit_code == 2


def test_alerts_show_lists_the_orders_of_one_incident(
        fb: Invoke, incidents: dict[str, int]) -> None:
    shown = fb("alerts", "show", str(incidents["late"]))
    assert shown.exit_code == 0
    assert all(f"ORD-{n}" in shown.stdout for n in (1, 2, 3))

    data = as_json(fb("alerts", "show", str(incidents["late"]), "--json"))
    assert data["orders"] == 3
    assert [m["order_id"] for m in data["members"]] == ["ORD-1", "ORD-2", "ORD-3"]
    assert all(m["left_at"] is None for m in data["members"])

    # and an order's timeline names the alerts it is in
    timeline = as_json(fb("show", "ORD-3", "--json"))["timeline"]
    assert {entry["alert_id"] for entry in timeline if entry["event"] == "alert"} == {
        incidents["late"], incidents["failed"]}

    missing = fb("alerts", "show", "999")
    assert missing.exit_code == 3 and "no alert with id 999" in missing.stderr


def test_alerts_ack_takes_several_ids(fb: Invoke, incidents: dict[str, int]) -> None:
    # an unknown id among them: nothing is acknowledged
    refused = fb("alerts", "ack", str(incidents["late"]), "999")
    assert refused.exit_code == 3
    assert all(a["acknowledged_by"] is None for a in as_json(fb("alerts", "--json")))

    done = fb("alerts", "ack", str(incidents["late"]), str(incidents["refused"]), "--by", "kari")
    assert done.exit_code == 0
    assert "3 orders" in done.stdout
    acked = {a["id"]: a["acknowledged_by"] for a in as_json(fb("alerts", "--json"))}
    assert acked == {incidents["late"]: "kari", incidents["refused"]: "kari",
                     incidents["failed"]: None}
    assert as_json(fb("status", "--json"))["alerts_unacknowledged"] == 1


def test_alerts_ack_of_a_partner_and_kind(fb: Invoke, incidents: dict[str, int]) -> None:
    assert fb("alerts", "ack", "--partner", "hauler", "--kind", "send_failed",
              "--by", "ola").exit_code == 0
    acked = {a["id"]: a["acknowledged_by"] for a in as_json(fb("alerts", "--json"))}
    assert acked == {incidents["failed"]: "ola", incidents["late"]: None,
                     incidents["refused"]: None}

    assert fb("alerts", "ack", "--partner", "hauler", "--by", "ola").exit_code == 0
    acked = {a["id"]: a["acknowledged_by"] for a in as_json(fb("alerts", "--json"))}
    assert acked[incidents["late"]] == "ola" and acked[incidents["refused"]] is None

    nothing = fb("alerts", "ack", "--partner", "hauler")
    assert nothing.exit_code == 0 and "No unacknowledged alerts" in nothing.stdout


@pytest.mark.parametrize("args", [
    ("alerts", "ack"),
    ("alerts", "ack", "1", "--partner", "hauler"),
    ("alerts", "ack", "--kind", "ack_overdue"),
])
def test_alerts_ack_usage_errors(fb: Invoke, args: tuple[str, ...]) -> None:
    assert fb(*args).exit_code == 2


def test_orders_of_a_partner_no_longer_configured_open_an_alert(
        fb: Invoke, config_file: Path, tmp_path: Path) -> None:
    # given an order queued for hauler
    order = tmp_path / "order.json"
    order.write_text(make_order("ORD-1").model_dump_json(), encoding="utf-8")
    config_file.write_text(CONFIG.replace("max_attempts = 2", "max_attempts = 2\n"
                                          "poll_interval = \"1h\""), encoding="utf-8")
    assert fb("send", str(order)).exit_code == 0
    # when hauler is taken out of the config and the daemon runs
    config_file.write_text(TWO_PARTNERS.replace("[partners.hauler]", "[partners.former]"),
                           encoding="utf-8")
    assert fb("run", "--once").exit_code == 0

    # then an alert says its orders wait for a partner nobody sends to
    (alert,) = as_json(fb("alerts", "--json"))
    assert (alert["kind"], alert["partner"], alert["order_id"]) == (
        "partner_not_configured", "hauler", "ORD-1")
    # and resend says so instead of "queued", and fails
    resent = fb("resend", "ORD-1", "--reason", "try again")
    assert resent.exit_code == 1
    assert "not in the config" in resent.stderr and "queued" not in resent.stdout
    assert as_json(fb("show", "ORD-1", "--json"))["state"] == "queued"
    # also among several ids (an unknown one besides): a failure, not "not found"
    several = fb("resend", "ORD-1", "NOPE-1")
    assert several.exit_code == 1 and "not in the config" in several.output

    # when hauler is configured again, the order goes out and the alert resolves
    config_file.write_text(TWO_PARTNERS, encoding="utf-8")
    assert fb("run", "--once").exit_code == 0
    assert as_json(fb("alerts", "--json")) == []
    assert as_json(fb("show", "ORD-1", "--json"))["state"] == "sent"
    (resolved,) = as_json(fb("alerts", "--all", "--json"))
    assert resolved["kind"] == "partner_not_configured" and resolved["resolved_at"]
