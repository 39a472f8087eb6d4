"""``filebridge prune``: old journal rows and old archived files go; open work stays."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filebridge.bridge import Bridge
from filebridge.clock import ManualClock
from filebridge.config import load_config
from tests.cli.conftest import CONFIG, Invoke, as_json
from tests.factories import make_ack, make_order, make_result

DROP = Path("drop/hauler")
ARCHIVE = DROP / "from_partner/archive"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The CLI tests' config, with the hauler's archive kept for 30 days."""
    path = tmp_path / "filebridge.toml"
    path.write_text(CONFIG + 'archive_keep = "30d"\n', encoding="utf-8")
    return path


def old_history(config_file: Path, tmp_path: Path) -> None:
    """200 days ago: ORD-OLD went all the way to completed; ORD-STUCK was sent and
    never answered (still waiting, with an open alert)."""
    clock = ManualClock(datetime.now(UTC) - timedelta(days=200))
    bridge = Bridge(load_config(config_file), clock=clock)
    try:
        bridge.submit(make_order("ORD-OLD"))
        bridge.submit(make_order("ORD-STUCK"))
        bridge.run_once()
        sent = bridge.journal.get_order("ORD-OLD")
        assert sent is not None
        inbound = tmp_path / DROP / "from_partner"
        (inbound / "acks" / "ack-old.xml").write_bytes(make_ack(sent.order).to_xml())
        (inbound / "results" / "result-old.xml").write_bytes(make_result(sent.order).to_xml())
        clock.advance(hours=1)  # ORD-STUCK misses its ack deadline: an alert opens
        bridge.run_once()
        assert bridge.get("ORD-OLD").state == "completed"
        assert bridge.get("ORD-STUCK").state == "sent"
        assert [alert.order_id for alert in bridge.alert_list()] == ["ORD-STUCK"]
    finally:
        bridge.close()
    # the archived files were written by the partner long ago
    long_ago = time.time() - 100 * 86400
    for name in ("ack-old.xml", "result-old.xml"):
        os.utime(tmp_path / ARCHIVE / name, (long_ago, long_ago))
    (tmp_path / ARCHIVE / "ack-recent.xml").write_bytes(b"<recent/>")


def test_prune_removes_old_rows_and_files_and_keeps_open_work(
        fb: Invoke, tmp_path: Path, config_file: Path) -> None:
    # given an old history and a fresh order
    old_history(config_file, tmp_path)
    fresh = tmp_path / "fresh.json"
    fresh.write_text(make_order("ORD-NEW").model_dump_json())
    fb("send", str(fresh))
    fb("run", "--once")
    records_before = len(as_json(fb("log", "--last", "1000", "--json")))
    # when a dry run looks first
    dry = fb("prune", "--older-than", "90d", "--dry-run", "--json")
    # then it reports what would go and changes nothing
    assert dry.exit_code == 0
    report = as_json(dry)
    assert report["dry_run"] is True and report["journal_rows"] > 0
    assert report["archives"]["hauler"]["files"] == ["ack-old.xml", "result-old.xml"]
    assert fb("show", "ORD-OLD").exit_code == 0
    assert len(as_json(fb("log", "--last", "1000", "--json"))) == records_before
    assert len(os.listdir(tmp_path / ARCHIVE)) == 3
    # when pruning for real
    real = fb("prune", "--older-than", "90d", "--json")
    # then exactly what the dry run announced went
    assert real.exit_code == 0
    done = as_json(real)
    assert done["journal_rows"] == report["journal_rows"]
    assert done["archives"]["hauler"]["removed"] == 2 and done["archives"]["hauler"]["kept"] == 1
    assert sorted(os.listdir(tmp_path / ARCHIVE)) == ["ack-recent.xml"]
    # the finished old order is gone; the unfinished one and its open alert stay
    assert fb("show", "ORD-OLD").exit_code == 3
    assert fb("show", "ORD-STUCK", "--json").exit_code == 0
    assert [alert["order_id"] for alert in as_json(fb("alerts", "--json"))] == ["ORD-STUCK"]
    # the fresh order's records stay, the old ones are gone
    records = as_json(fb("log", "--last", "1000", "--json"))
    assert {record["order_id"] for record in records} == {"ORD-NEW"}
    # and what went is logged
    assert "journal: removed" in real.stderr and "archive of hauler: removed 2" in real.stderr
    # a second run finds nothing more
    again = as_json(fb("prune", "--older-than", "90d", "--json"))
    assert again["journal_rows"] == 0 and again["archives"]["hauler"]["removed"] == 0


def test_prune_reports_for_people(fb: Invoke, tmp_path: Path, config_file: Path) -> None:
    old_history(config_file, tmp_path)
    result = fb("prune", "--older-than", "90d", "--dry-run")
    assert result.exit_code == 0
    assert "Journal: would remove" in result.stdout
    assert ("Archive of hauler (from_partner/archive, keep 30d): would remove 2 files, kept 1."
            in result.stdout)
    assert "Dry run: nothing was changed." in result.stdout


def test_an_archive_that_cannot_be_read_fails_the_command(
        fb: Invoke, tmp_path: Path) -> None:
    (tmp_path / ARCHIVE).parent.mkdir(parents=True)
    (tmp_path / ARCHIVE).write_text("a file where the archive folder should be")
    result = fb("prune", "--older-than", "90d")
    assert result.exit_code == 1
    assert "Archive of hauler" in result.stdout and "not pruned:" in result.stdout


def test_a_bad_duration_is_a_usage_error(fb: Invoke) -> None:
    result = fb("prune", "--older-than", "ninety days")
    assert result.exit_code == 2 and "--older-than" in result.stderr
    assert fb("prune").exit_code == 2  # the age is required: nothing is pruned by default
