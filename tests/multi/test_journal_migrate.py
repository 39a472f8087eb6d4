"""``filebridge journal migrate``: a SQLite journal moves to PostgreSQL whole, ids kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from filebridge.bridge import Bridge
from filebridge.cli.main import _register, cli
from filebridge.journal import Journal, open_journal
from filebridge.model import Direction, DocumentKind, ExchangeRecord, ExchangeStatus
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_order
from tests.multi.conftest import Bridges, bridge_config

ORDERS = 12


def migrate(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, ["journal", "migrate", *args])


@pytest.fixture
def old_journal(tmp_path: Path, bridges: Bridges) -> str:
    """A SQLite journal with a little of everything: orders through their whole life,
    exchanges in and out, a refused file, an alert and its notification."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    bridge: Bridge = bridges.open(bridge_config(tmp_path, url, {"hauler": {}}))
    for number in range(ORDERS):
        bridge.submit(make_order(f"ORD-{number:02d}"), partner="hauler")
    policy = bridge.config.partners["hauler"]
    partner = SimulatedPartner(open_transport(policy, bridge.config), policy)
    partner.transport.ensure_folders([policy.orders_dir, *policy.inbound_dirs])
    partner.drop_bad_file()
    for _ in range(4):
        bridge.run_once()
        partner.step()
    bridge.run_once()
    bridge.close()
    return url


def everything(journal: Journal) -> dict[str, object]:
    """All a journal holds, as the API reads it back."""
    orders = journal.find_orders()
    return {
        "orders": orders,
        "exchanges": journal.exchanges(last=10_000),
        "timelines": {row.order_id: journal.timeline(row.order_id) for row in orders},
        "alerts": journal.alerts(include_resolved=True),
        "notifications": journal.notifications(),
    }


def test_a_sqlite_journal_moves_to_postgresql_whole(old_journal: str, pg_url: str) -> None:
    # when the operator copies the old journal into an empty PostgreSQL schema
    result = migrate("--from", old_journal, "--to", pg_url, "--json")

    # then every table came over, with counts printed
    assert result.exit_code == 0, result.output
    copied = json.loads(result.stdout)["copied"]
    old, new = open_journal(old_journal), open_journal(pg_url)
    try:
        before, after = everything(old), everything(new)
        assert copied["orders"] == ORDERS
        assert copied["exchanges"] == len(before["exchanges"])  # type: ignore[arg-type]
        assert copied["alerts"] >= 1 and copied["notifications"] >= 1
        # and it reads back the same, ids and all
        assert after == before
        # and new rows continue above the copied ids
        newest = max(record.id or 0 for record in new.exchanges(last=10_000))
        added = new.add_exchange(ExchangeRecord(
            at=new.exchanges(last=1)[0].at, partner="hauler", direction=Direction.IN,
            document=DocumentKind.UNKNOWN, file_name="x.xml", path="from_partner/acks/x.xml",
            status=ExchangeStatus.IGNORED))
        assert added.id is not None and added.id > newest
    finally:
        old.close()
        new.close()


def test_a_target_that_holds_a_journal_is_refused_unless_forced(
    old_journal: str, pg_url: str
) -> None:
    assert migrate("--from", old_journal, "--to", pg_url).exit_code == 0

    # when copied again, the target is refused, and says how to go on
    again = migrate("--from", old_journal, "--to", pg_url)
    assert again.exit_code == 1
    assert "already holds a journal" in again.output and "--force" in again.output

    # and --force replaces what it holds: still one copy of everything
    forced = migrate("--from", old_journal, "--to", pg_url, "--force")
    assert forced.exit_code == 0, forced.output
    printed = {parts[0]: int(parts[1]) for parts in map(str.split, forced.stdout.splitlines())
               if len(parts) == 2 and parts[1].isdigit()}
    assert set(printed) == {"orders", "exchanges", "events", "alerts", "alert_orders",
                            "notifications"}
    assert printed["orders"] == ORDERS
    journal = open_journal(pg_url)
    try:
        assert len(journal.find_orders()) == ORDERS
    finally:
        journal.close()


def test_a_postgresql_journal_copies_back_to_sqlite(
    old_journal: str, pg_url: str, tmp_path: Path
) -> None:
    assert migrate("--from", old_journal, "--to", pg_url).exit_code == 0
    back = f"sqlite:///{tmp_path / 'back.db'}"

    result = migrate("--from", pg_url, "--to", back)

    assert result.exit_code == 0, result.output
    first, second = open_journal(old_journal), open_journal(back)
    try:
        assert everything(second) == everything(first)
    finally:
        first.close()
        second.close()


def test_a_missing_source_file_is_a_usage_error(tmp_path: Path, pg_url: str) -> None:
    result = migrate("--from", f"sqlite:///{tmp_path / 'typo.db'}", "--to", pg_url)
    assert result.exit_code == 2
    assert "no journal file" in result.output
    assert not (tmp_path / "typo.db").exists()
