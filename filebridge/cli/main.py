"""The ``filebridge`` command: a click group whose commands live in sibling modules.

Exit codes (the contract): 0 ok, 1 operation failed, 2 usage or config error,
3 not found. Errors are printed as one line on stderr, never as a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from filebridge.errors import ConfigError, FileBridgeError, NotFound
from filebridge.observe.logs import escape_unhandled_records
from filebridge.outside_text import shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


class FileBridgeGroup(click.Group):
    """Turns filebridge errors into one clear line and the contract's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(str(exc), EXIT_USAGE)
        except NotFound as exc:
            _fail(str(exc), EXIT_NOT_FOUND)
        except FileBridgeError as exc:
            _fail(str(exc), EXIT_FAILED)


def _fail(message: str, code: int) -> None:
    """One line, whatever the message quotes (a partner's text, a server's reply)."""
    click.echo(f"filebridge: error: {shown(message)}", err=True)
    sys.exit(code)


@click.group(cls=FileBridgeGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $FILEBRIDGE_CONFIG, else ./filebridge.toml).",
)
@click.version_option(package_name="filebridge")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Exchange work orders with partners through files, and know what happened."""
    escape_unhandled_records()
    ctx.obj = {"config_path": config_path}


def _register() -> None:
    from filebridge.cli import commands

    for command in commands.ALL:
        cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    _register()
    cli(prog_name="filebridge")
