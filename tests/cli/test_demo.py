"""``filebridge demo``: the whole product on the embedded default, as a newcomer runs it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from filebridge.cli.main import _register, cli
from filebridge.config import load_config
from filebridge.journal import open_journal
from filebridge.model import FINAL_STATES, OrderState


def test_the_demo_settles_every_order_and_shows_failure_handling(tmp_path: Path) -> None:
    _register()
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # the printout shows the log, the orders, a refusal, a quarantined file and the summary
    for text in ("Exchange log", "Orders by state", "rejected", "quarantined",
                 "ACK_broken.xml", "completed"):
        assert text in result.output
    # and the journal agrees: every order settled, one bad file refused
    config = load_config(tmp_path / "filebridge.toml")
    journal = open_journal(config.journal_url())
    states = {row.state for row in journal.find_orders()}
    assert states <= FINAL_STATES | {OrderState.REJECTED} and OrderState.REJECTED in states
    assert [r.file_name for r in journal.exchanges(status="quarantined")] == ["ACK_broken.xml"]
    error_dir = tmp_path / "drop/nordic-hauling/from_partner/error"
    assert sorted(p.name for p in error_dir.iterdir()) == ["ACK_broken.xml",
                                                           "ACK_broken.xml.reason.txt"]
    journal.close()
