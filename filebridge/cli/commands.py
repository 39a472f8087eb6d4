"""The list of CLI commands, one module each."""

from __future__ import annotations

import click

from filebridge.cli.check import check
from filebridge.cli.daemon import run
from filebridge.cli.journal_cmd import journal
from filebridge.cli.orders import resend, send
from filebridge.cli.prune import prune
from filebridge.cli.reports import alerts, log, show, status
from filebridge.cli.setup import demo, init
from filebridge.cli.validate import validate

ALL: list[click.Command] = [init, demo, send, run, status, log, show, resend, alerts, check,
                            validate, prune, journal]
