"""``filebridge run``: one pass with honest exit codes, JSON logs, metrics, and a daemon
that stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Invoke
from tests.cli.terminal import serve_on_terminal
from tests.factories import make_order
from tests.support import free_port

DROP = Path("drop/hauler")


def queue_order(fb: Invoke, tmp_path: Path, order_id: str = "ORD-1") -> None:
    path = tmp_path / f"{order_id}.json"
    path.write_text(json.dumps(make_order(order_id).model_dump(mode="json")))
    assert fb("send", str(path)).exit_code == 0


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line must be one JSON object."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def test_a_pass_that_did_its_work_exits_0(fb: Invoke, tmp_path: Path) -> None:
    queue_order(fb, tmp_path)
    result = fb("run", "--once")
    assert result.exit_code == 0
    assert result.stdout.startswith("sent 1, picked up 0, received 0")
    assert "sent ORDER_ORD-1_1.xml [partner=hauler order_id=ORD-1]" in result.stderr


def test_json_logs_carry_partner_order_file_and_error(fb: Invoke, tmp_path: Path) -> None:
    # given a queued order and a partner file that is not a document
    queue_order(fb, tmp_path)
    acks = tmp_path / DROP / "from_partner/acks"
    acks.mkdir(parents=True)
    (acks / "broken.xml").write_bytes(b"<Acknowledgement>")
    # when one pass runs with JSON logs
    result = fb("run", "--once", "--log-format", "json")
    # then the pass worked (a refused partner file is handled, not a failure)
    assert result.exit_code == 0
    records = json_lines(result.stderr)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    sent = next(r for r in records if r.get("event") == "sent")
    assert (sent["partner"], sent["order_id"], sent["level"]) == ("hauler", "ORD-1", "INFO")
    refused = next(r for r in records if r.get("file") == "broken.xml")
    assert (refused["partner"], refused["event"], refused["level"]) == (
        "hauler", "received", "WARNING")
    assert refused["error"]
    assert any(r.get("event") == "alert" and r["partner"] == "hauler" for r in records)
    # and stdout holds only the summary
    assert result.stdout.count("\n") == 1


def test_an_unreachable_partner_fails_the_pass(fb: Invoke, tmp_path: Path) -> None:
    # given a partner root that cannot be opened (a file where the folder should be)
    (tmp_path / DROP).parent.mkdir(parents=True)
    (tmp_path / DROP).write_text("not a folder")
    queue_order(fb, tmp_path)
    result = fb("run", "--once")
    assert result.exit_code == 1
    assert "unreachable: hauler" in result.stdout
    assert "unreachable" in result.stderr


def test_an_order_that_cannot_be_written_fails_the_pass(fb: Invoke, tmp_path: Path) -> None:
    # given an orders folder that is a file, so the instruction cannot be written
    (tmp_path / DROP / "to_partner").mkdir(parents=True)
    (tmp_path / DROP / "to_partner/orders").write_text("in the way")
    queue_order(fb, tmp_path)
    result = fb("run", "--once")
    assert result.exit_code == 1
    assert "failed sends 1" in result.stdout
    assert "sending ORDER_ORD-1_1.xml failed" in result.stderr


def test_quiet_prints_nothing_when_all_is_well(fb: Invoke, tmp_path: Path) -> None:
    queue_order(fb, tmp_path)
    result = fb("run", "--once", "--quiet")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert fb("status", "--json").stdout.count('"sent": 1') == 1


def test_metrics_need_the_daemon_and_prometheus_client(
        fb: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    result = fb("run", "--once", "--metrics-port", "9999")
    assert result.exit_code == 2 and "leave out --once" in result.stderr
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    result = fb("run", "--metrics-port", "9999")
    assert result.exit_code == 2
    assert "pip install 'filebridge[metrics]'" in result.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_sent_metric(url: str, daemon: subprocess.Popen[str]) -> str:
    """The daemon's /metrics once it shows the sent file (it needs a moment to start)."""
    for _ in range(300):
        if daemon.poll() is not None:
            pytest.fail(f"the daemon exited early: {daemon.communicate()}")
        try:
            status, body = get(url)
        except OSError:
            status, body = 0, ""
        if status == 200 and 'filebridge_files_sent_total{document="order"' in body:
            return body
        time.sleep(0.1)
    daemon.kill()
    pytest.fail(f"no sent file in the metrics: {daemon.communicate()}")


def test_the_daemon_serves_metrics_and_stops_cleanly_on_sigterm(
        fb: Invoke, tmp_path: Path, config_file: Path) -> None:
    # given a queued order and the daemon running with metrics, stdout not a terminal
    queue_order(fb, tmp_path)
    port = free_port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "--config", str(config_file), "run",
         "--metrics-port", str(port), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        # when the order has been sent
        body = wait_for_sent_metric(f"http://127.0.0.1:{port}/metrics", daemon)
        assert ('filebridge_files_sent_total{document="order",partner="hauler",status="ok"} 1.0'
                in body)
        assert 'filebridge_orders{partner="hauler",state="sent"} 1.0' in body
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        # and the daemon is told to stop
        daemon.send_signal(signal.SIGTERM)
        stdout, stderr = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    # then it finished its tick and exited 0, with plain JSON log lines and no panel
    assert daemon.returncode == 0
    assert stdout == ""
    messages = [record["message"] for record in json_lines(stderr)]
    assert messages[0] == "filebridge running for hauler"
    assert "SIGTERM: stopping after this tick" in messages
    assert messages[-1] == "filebridge stopped"
    # and the metrics server is gone with it
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/healthz")


def test_on_a_terminal_the_daemon_shows_the_live_panel(
        fb: Invoke, tmp_path: Path, config_file: Path) -> None:
    # given a queued order and the daemon started on a (pseudo) terminal
    queue_order(fb, tmp_path)
    # when the order has been sent and shows in the panel, and SIGTERM stops it
    screen, returncode = serve_on_terminal(config_file, tmp_path, b"ORDER_ORD-1_1.xml")
    # then the panel showed the partner, its connection and the exchange
    assert "filebridge run" in screen and "Partners" in screen
    assert "hauler" in screen and "reachable" in screen and "ORDER_ORD-1_1.xml" in screen
    # and log lines were printed above it, up to a clean stop with exit code 0
    assert "SIGTERM: stopping after this tick" in screen
    assert returncode == 0
