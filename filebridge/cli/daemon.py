"""``filebridge run``: the daemon. SIGTERM and SIGINT finish the current tick, then exit."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import click

from filebridge.cli.context import bridge_from, console


@click.command()
@click.option("--once", is_flag=True, help="One pass (dispatch, ingest, deadlines, escalation).")
@click.option("--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def run(ctx: click.Context, once: bool, quiet: bool) -> None:
    """Run the exchange: dispatch, ingest, deadlines and escalation."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bridge = bridge_from(ctx)
    if once:
        report = bridge.run_once()
        console().print(
            f"sent {report.sent}, picked up {report.picked_up}, received {report.received}, "
            f"alerts opened {report.alerts_opened}, notifications {report.notified}"
            + (f"; unreachable: {', '.join(report.unreachable)}" if report.unreachable else ""))
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("filebridge").info("signal %s: stopping after this tick", signum)
        bridge.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.getLogger("filebridge").info(
        "filebridge running for %s", ", ".join(sorted(bridge.config.partners)) or "no partners")
    bridge.serve()
