"""``filebridge run``: the daemon; ``run --once``: one pass, for cron and scripts.

On a terminal, ``run`` shows a live panel (partners, queues, the last exchanges, open
alerts) redrawn every tick, with log lines scrolling above it. With ``--quiet``, or
when stdout is not a terminal (systemd, a pipe), it writes log lines only, on stderr:
human ones, or one JSON object per line with ``--log-format json``.

SIGTERM and SIGINT finish the current tick and exit 0. A second Ctrl-C stops at once,
which is safe: everything is journalled before it is acted on.

``--metrics-port`` serves Prometheus metrics on ``/metrics`` and a health check on
``/healthz`` (127.0.0.1 unless ``--metrics-host`` says otherwise); it needs the
``metrics`` extra (``pip install 'filebridge[metrics]'``).

Exit codes of ``run --once``: 0 the pass did its work; 1 a partner could not be
reached, an order file could not be sent (it will be retried), or the engine logged an
error it carried on after (the log says what); 2 usage or config error. A partner's
refused file is not a failure of the pass: it is quarantined and alerted on.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from filebridge.cli.context import bridge_from, console, error_console
from filebridge.cli.render import plain
from filebridge.engine.runner import TickReport
from filebridge.errors import ConfigError
from filebridge.observe.live import LiveView
from filebridge.observe.logs import (
    LOG_FORMATS,
    LogFormat,
    counting_errors,
    daemon_logging,
    secrets_of,
)
from filebridge.observe.progress import PassProgress, PassTally

if TYPE_CHECKING:
    from filebridge.bridge import Bridge

log = logging.getLogger("filebridge")

EXIT_OK, EXIT_FAILED = 0, 1
TickCallback = Callable[[TickReport], None]
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@click.command()
@click.option("--once", is_flag=True, help="One pass (dispatch, ingest, deadlines, escalation).")
@click.option("--quiet", is_flag=True,
              help="No live view, spinner or summary; log only warnings and errors.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="human",
              show_default=True, help="Log lines for people, or one JSON object per line.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve /metrics and /healthz on this port (needs filebridge[metrics]).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics server binds to.")
@click.pass_context
def run(ctx: click.Context, once: bool, quiet: bool, log_format: LogFormat,
        metrics_port: int | None, metrics_host: str) -> None:
    """Run the exchange: dispatch, ingest, deadlines and escalation."""
    if once and metrics_port is not None:
        raise click.UsageError("--metrics-port is for the daemon; leave out --once")
    if metrics_port is not None:
        _require_metrics()
    bridge = bridge_from(ctx)
    level = logging.WARNING if quiet else logging.INFO
    with daemon_logging(log_format, level, secrets_of(bridge.config)):
        try:
            if once:
                code = _run_once(bridge, quiet)
            else:
                _serve(bridge, quiet, metrics_host, metrics_port)
                code = EXIT_OK
        finally:
            bridge.close()  # inside: what closing transports logs goes to the same log
    ctx.exit(code)


def _require_metrics() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus-client, which is not installed: "
                          "pip install 'filebridge[metrics]'") from None


def _run_once(bridge: Bridge, quiet: bool) -> int:
    tally = PassTally(bridge)
    with counting_errors() as errors, PassProgress(tally, error_console(), enabled=not quiet):
        report = bridge.run_once()
    problems = []
    if tally.failed_sends:
        problems.append(f"failed sends {tally.failed_sends}")
    if errors.count:
        problems.append(f"errors logged {errors.count}")
    if report.unreachable:
        problems.append(f"unreachable: {', '.join(report.unreachable)}")
    if not quiet:
        console().print(plain(
            f"sent {report.sent}, picked up {report.picked_up}, received {report.received}, "
            f"alerts opened {report.alerts_opened}, notifications {report.notified}"
            + (f"; {'; '.join(problems)}" if problems else "")))
    return EXIT_FAILED if problems else EXIT_OK


def _serve(bridge: Bridge, quiet: bool, metrics_host: str, metrics_port: int | None) -> None:
    out = console()
    links = bridge.engine.links  # built here, before any other thread looks at them
    log.info("filebridge running for %s",
             ", ".join(link.name for link in links) or "no partners")
    callbacks: list[TickCallback] = []
    server = None
    if metrics_port is not None:
        from filebridge.observe.health import HealthCheck
        from filebridge.observe.metrics import BridgeMetrics
        from filebridge.observe.server import ObserveApp, ObserveServer

        metrics = BridgeMetrics(bridge)
        callbacks.append(metrics.on_tick)
        server = ObserveServer(ObserveApp(metrics, HealthCheck(bridge)), metrics_host,
                               metrics_port).start()
    stop = _GracefulStop(bridge)
    callbacks.append(stop.on_tick)
    try:
        with stop:
            if not quiet and out.is_terminal:
                with LiveView(bridge, out, redirect_stderr=error_console().is_terminal) as view:
                    bridge.serve(on_tick=_all(view.on_tick, *callbacks))
            else:
                bridge.serve(on_tick=_all(*callbacks))
    finally:
        if server is not None:
            server.stop()
    log.info("filebridge stopped")


def _all(*callbacks: TickCallback) -> TickCallback:
    def on_tick(report: TickReport) -> None:
        for callback in callbacks:
            callback(report)

    return on_tick


class _GracefulStop:
    """SIGTERM/SIGINT ask the bridge to stop after the current tick.

    The request is remembered and repeated after each tick, so one that arrives
    before ``serve`` has started is not lost. After the first SIGINT, a second one
    interrupts at once. The previous handlers come back on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.requested = False
        self._previous: dict[int, SignalHandler] = {}

    def __enter__(self) -> _GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            log.info("%s: stopping after this tick (Ctrl-C again to stop at once)", name)
        else:
            log.info("%s: stopping after this tick", name)
        self.requested = True
        self.bridge.stop()

    def on_tick(self, report: TickReport) -> None:
        if self.requested:
            self.bridge.stop()
