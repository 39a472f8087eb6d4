"""``filebridge prune --older-than 90d [--dry-run] [--json]``: housekeeping.

Removes journal rows older than ``--older-than`` (exchange records, timeline events,
alerts resolved before it, finished orders; never an open alert or an unfinished
order), and from each partner's ``archive_dir`` the files older than that partner's
``archive_keep`` (unset: keep all). ``--dry-run`` reports the same counts and changes
nothing. What was removed is logged on stderr; the report goes to stdout.
Exit codes: 0 done, 1 a partner's archive could not be (fully) pruned, 2 usage.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import click
from rich.text import Text

from filebridge.cli.context import bridge_from, console, print_json
from filebridge.cli.render import plain
from filebridge.config import BridgeConfig, parse_duration
from filebridge.errors import FileBridgeError
from filebridge.observe.housekeeping import (
    ArchivePrune,
    duration_text,
    prune_archive,
    prune_journal,
)
from filebridge.observe.logs import daemon_logging, secrets_of
from filebridge.transports.factory import open_transport


@click.command()
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Remove journal rows older than this, e.g. 90d.")
@click.option("--dry-run", is_flag=True, help="Report what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object for programs.")
@click.pass_context
def prune(ctx: click.Context, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Remove old journal rows, and archived partner files past their archive_keep."""
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    bridge = bridge_from(ctx)
    with daemon_logging("human", logging.INFO, secrets_of(bridge.config)):
        now = bridge.clock.now()
        before = now - age
        rows = prune_journal(bridge.journal, before, dry_run=dry_run)
        archives = {name: _prune_partner(bridge.config, name, now, dry_run)
                    for name in bridge.config.partners}
    if as_json:
        report: dict[str, Any] = {
            "dry_run": dry_run,
            "before": before.isoformat(),
            "journal_rows": rows,
            "archives": {name: result.as_json() for name, result in archives.items()},
        }
        print_json(report)
    else:
        _print(rows, before.strftime("%Y-%m-%d %H:%M:%S"), archives, dry_run)
    if not all(result.ok for result in archives.values()):
        ctx.exit(1)


def _prune_partner(config: BridgeConfig, name: str, now: datetime,
                   dry_run: bool) -> ArchivePrune:
    partner = config.partner(name)
    if partner.archive_keep is None:
        return ArchivePrune(name, partner.archive_dir, None)
    try:
        transport = open_transport(partner, config)
    except FileBridgeError as exc:
        return ArchivePrune(name, partner.archive_dir, partner.archive_keep, error=str(exc))
    try:
        return prune_archive(partner, transport, now, dry_run=dry_run)
    finally:
        transport.close()


def _print(rows: int, before: str, archives: dict[str, ArchivePrune], dry_run: bool) -> None:
    out = console()
    verb = "would remove" if dry_run else "removed"
    out.print(plain(f"Journal: {verb} {rows} rows older than {before} UTC."))
    for name, result in archives.items():
        if result.keep is None:
            out.print(plain(f"Archive of {name}: archive_keep is not set; every file is kept."))
            continue
        line = (f"Archive of {name} ({result.folder}, keep {duration_text(result.keep)}): "
                f"{verb} {len(result.removed)} files, kept {result.kept}.")
        out.print(plain(line))
        if result.error:
            out.print(Text.assemble("  ", ("not pruned: ", "red"), plain(result.error)))
        for failure in result.failed:
            out.print(Text.assemble("  ", ("could not remove ", "red"), plain(failure)))
    if dry_run:
        out.print(plain("Dry run: nothing was changed."))
