"""The operator's commands: send, run, status, log, show, resend, alerts."""

from __future__ import annotations

import json
import os
from pathlib import Path

from filebridge.model import Order
from tests.cli.conftest import Invoke, as_json
from tests.factories import make_ack, make_order

# The contract's JSON keys, written out here so that a change in the code cannot
# silently change what programs reading our output rely on.
EXCHANGE_JSON_KEYS = ("id", "at", "partner", "direction", "document", "order_id", "file_name",
                      "path", "size", "sha256", "status", "attempt", "error", "by", "reason")
ALERT_JSON_KEYS = ("id", "kind", "partner", "order_id", "orders", "order_ids", "opened_at",
                   "level", "count", "message", "acknowledged_by", "acknowledged_at",
                   "resolved_at")


def order_file(tmp_path: Path, order_id: str = "ORD-1", **overrides: object) -> Path:
    path = tmp_path / f"{order_id}.json"
    path.write_text(json.dumps(make_order(order_id, **overrides).model_dump(mode="json")))
    return path


def test_send_run_log_and_show_tell_the_whole_story(fb: Invoke, tmp_path: Path) -> None:
    # given an order file sent from the command line and one daemon pass
    assert fb("send", str(order_file(tmp_path))).exit_code == 0
    run = fb("run", "--once")
    assert run.exit_code == 0 and "sent 1" in run.stdout
    # then the instruction file is in the partner's folder
    assert (tmp_path / "drop/hauler/to_partner/orders/ORDER_ORD-1_1.xml").is_file()
    # and log --json gives the contract's keys, nothing else on stdout
    records = as_json(fb("log", "--json"))
    assert [tuple(r) for r in records] == [EXCHANGE_JSON_KEYS]
    assert records[0]["status"] == "ok" and records[0]["order_id"] == "ORD-1"
    shown = as_json(fb("show", "ORD-1", "--json"))
    assert (shown["order_id"], shown["partner"], shown["state"]) == ("ORD-1", "hauler", "sent")
    assert [entry["event"] for entry in shown["timeline"]] == ["submitted", "exchange"]
    assert "ORD-1" in fb("show", "ORD-1").stdout


def test_status_json_has_the_contract_shape(fb: Invoke, tmp_path: Path) -> None:
    fb("send", str(order_file(tmp_path, "ORD-1")), str(order_file(tmp_path, "ORD-2")))
    status = as_json(fb("status", "--json"))
    # the contract's keys, plus the daemons sharing the journal (none running here)
    assert status == {"partners": {"hauler": {"queued": 2}}, "alerts_open": 0,
                      "alerts_unacknowledged": 0, "overdue": 0, "daemons": []}
    assert "queued" in fb("status").stdout


def test_an_invalid_order_file_fails_with_the_field_named(fb: Invoke, tmp_path: Path) -> None:
    data = make_order("ORD-1").model_dump(mode="json")
    data["container"]["quantity"] = 120
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = fb("send", str(path))
    assert result.exit_code == 1
    assert "container.quantity" in result.stderr
    assert as_json(fb("status", "--json"))["partners"]["hauler"] == {}


def test_send_accepts_xml_and_csv_order_files(fb: Invoke, tmp_path: Path) -> None:
    (tmp_path / "o.xml").write_bytes(make_order("ORD-X").to_xml())
    (tmp_path / "o.csv").write_bytes(make_order("ORD-C").to_csv())
    result = fb("send", "--json", str(tmp_path / "o.xml"), str(tmp_path / "o.csv"))
    assert result.exit_code == 0
    assert {r["order_id"] for r in as_json(result)} == {"ORD-X", "ORD-C"}


def test_unknown_ids_exit_3(fb: Invoke) -> None:
    result = fb("show", "NOPE")
    assert result.exit_code == 3 and "NOPE" in result.stderr
    unknown_partner = fb("log", "--partner", "nobody")
    assert unknown_partner.exit_code == 3 and "nobody" in unknown_partner.stderr
    assert fb("resend", "NOPE").exit_code == 3
    assert fb("alerts", "ack", "999").exit_code == 3


def test_a_bad_config_is_one_line_naming_the_key_and_exit_2(
        fb: Invoke, config_file: Path) -> None:
    config_file.write_text(config_file.read_text().replace('max_attempts = 2',
                                                           'max_attempts = "many"'))
    result = fb("status")
    assert result.exit_code == 2
    assert "max_attempts" in result.stderr and str(config_file) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_resend_one_order_records_who_and_why(fb: Invoke, tmp_path: Path) -> None:
    fb("send", str(order_file(tmp_path)))
    fb("run", "--once")
    dry = fb("resend", "ORD-1", "--dry-run")
    assert dry.exit_code == 0 and "would resend" in dry.stdout
    assert as_json(fb("show", "ORD-1", "--json"))["state"] == "sent"
    result = fb("resend", "ORD-1", "--reason", "partner lost it", "--by", "kari")
    assert result.exit_code == 0
    fb("run", "--once")
    newest = as_json(fb("log", "--json", "--last", "1"))[0]
    assert (newest["file_name"], newest["by"], newest["reason"]) == (
        "ORDER_ORD-1_2.xml", "kari", "partner lost it")


def test_filtered_resend_asks_above_ten_unless_yes(fb: Invoke, tmp_path: Path) -> None:
    files = [str(order_file(tmp_path, f"ORD-{n:02d}")) for n in range(12)]
    fb("send", *files)
    fb("run", "--once")
    refused = fb("resend", "--state", "sent", "--reason", "r", input="n\n")
    assert refused.exit_code == 1
    assert as_json(fb("status", "--json"))["partners"]["hauler"] == {"sent": 12}
    done = fb("resend", "--state", "sent", "--partner", "hauler", "--yes", "--reason", "r")
    assert done.exit_code == 0
    assert as_json(fb("status", "--json"))["partners"]["hauler"] == {"queued": 12}


def test_alerts_list_and_ack(fb: Invoke, tmp_path: Path) -> None:
    # given a refused partner file, which opens a quarantined_file alert
    fb("run", "--once")
    (tmp_path / "drop/hauler/from_partner/acks/bad.xml").write_bytes(b"<oops")
    fb("run", "--once")
    alerts = as_json(fb("alerts", "--json"))
    assert [tuple(a) for a in alerts] == [ALERT_JSON_KEYS]
    assert alerts[0]["kind"] == "quarantined_file"
    assert fb("alerts", "ack", str(alerts[0]["id"]), "--by", "ola").exit_code == 0
    acked = as_json(fb("alerts", "--json"))[0]
    assert acked["acknowledged_by"] == "ola"
    assert as_json(fb("status", "--json"))["alerts_unacknowledged"] == 0


def test_init_writes_a_config_that_works(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from filebridge.cli.main import cli

    target = tmp_path / "site"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(target)]).exit_code == 0
    assert (target / "drop/example/to_partner/orders").is_dir()
    modes = {path.name: path.stat().st_mode & 0o777
             for path in [target / "drop/example", *(target / "drop/example").rglob("*")]}
    assert modes["example"] == 0o700 and modes["to_partner"] & 0o007 == 0
    status = runner.invoke(cli, ["--config", str(target / "filebridge.toml"), "status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["partners"] == {"example": {}}
    assert runner.invoke(cli, ["init", str(target)]).exit_code == 2


def test_run_once_from_cron_reads_answers_that_have_settled(
        fb: Invoke, tmp_path: Path, config_file: Path) -> None:
    # given a config that waits 2s for files to settle, and an order sent by one process
    config_file.write_text(config_file.read_text().replace('settle_time = "0s"',
                                                           'settle_time = "2s"'))
    fb("send", str(order_file(tmp_path)))
    fb("run", "--once")
    # and the partner's ack written in place three seconds ago
    sent = Order.from_xml((tmp_path / "drop/hauler/to_partner/orders/ORDER_ORD-1_1.xml")
                          .read_bytes())
    ack = tmp_path / "drop/hauler/from_partner/acks/ack.xml"
    ack.write_bytes(make_ack(sent).to_xml())
    old = ack.stat().st_mtime - 3
    os.utime(ack, (old, old))
    # when a new `run --once` process makes its single pass
    fb("run", "--once")
    # then the ack was read: a new process need not see a file twice
    assert as_json(fb("show", "ORD-1", "--json"))["state"] == "acknowledged"
