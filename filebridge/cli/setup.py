"""``init`` (a working local config) and ``demo`` (the whole product in seconds)."""

from __future__ import annotations

from pathlib import Path

import click

from filebridge.cli.context import console
from filebridge.cli.render import (
    alerts_table,
    exchange_table,
    orders_table,
    plain,
    status_table,
)
from filebridge.config import load_config
from filebridge.transports.factory import open_transport

INIT_CONFIG = """\
# filebridge configuration. Durations: 30s, 15m, 48h, 2d. Paths relative to this file.
[journal]
url = "sqlite:///filebridge.db"

[defaults]
format = "xml"              # or "csv"
max_attempts = 5
backoff_initial = "5s"
backoff_max = "10m"
ack_timeout = "15m"
result_timeout = "48h"
poll_interval = "30s"
settle_time = "2s"

[partners.example]
transport = "local"
root = "./drop/example"

[escalation]
levels = [ { after = "0m", notify = ["log:alerts"] } ]
"""


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing filebridge.toml.")
def init(directory: Path, force: bool) -> None:
    """Write a working local-transport config and its drop folders into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "filebridge.toml"
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; use --force to overwrite it")
    target.write_text(INIT_CONFIG, encoding="utf-8")
    config = load_config(target)
    for partner in config.partners.values():
        # the transport creates them as the daemon would: root 0700, folders 0750
        transport = open_transport(partner, config)
        transport.ensure_folders([partner.orders_dir, *partner.inbound_dirs,
                                  partner.archive_dir, partner.error_dir])
        transport.close()
    out = console()
    out.print(plain(f"Wrote {target} with partner 'example' (drop folders under "
                    f"{directory / 'drop' / 'example'})."))
    out.print(plain(f"Next: filebridge --config {target} check, then "
                    f"filebridge --config {target} run"))


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to build the workspace (default: a new temporary folder).")
def demo(workdir: Path | None) -> None:
    """Run the whole exchange on local folders with a simulated partner, then report."""
    from filebridge.demo import run_demo

    out = console()
    out.print(plain("Running filebridge against two simulated partners on local folders..."))
    bridge, order_ids = run_demo(workdir)
    try:
        out.print(exchange_table(reversed(bridge.exchanges(last=100)),
                                 title="Exchange log (oldest first)"))
        out.print(orders_table(bridge.get(order_id) for order_id in order_ids))
        summary = bridge.status()
        out.print(status_table(summary["partners"]))
        out.print(plain(f"Open alerts: {summary['alerts_open']}   Overdue: {summary['overdue']}"))
        if summary["alerts_open"]:
            out.print(alerts_table(bridge.alert_list()))
        out.print(plain(f"Workspace: {bridge.config.base_dir}"))
        out.print(plain(f"Look closer: filebridge --config {bridge.config.path} "
                        f"show {order_ids[0]}"))
    finally:
        bridge.close()
