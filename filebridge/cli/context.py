"""What every command needs: the config, the bridge, a console, and JSON output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from filebridge.config import BridgeConfig, load_config
from filebridge.outside_text import json_safe

if TYPE_CHECKING:
    from filebridge.bridge import Bridge


def console() -> Console:
    """Rich output for people on stdout. Piped into a file or a pager, tables get room
    (rich would assume 80 columns) instead of folding every cell."""
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=False, width=max(out.width, 160))
    return out


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def config_from(ctx: click.Context) -> BridgeConfig:
    """The config named by ``--config``/``$FILEBRIDGE_CONFIG``/``./filebridge.toml``."""
    root = ctx.find_root()
    path = (root.obj or {}).get("config_path")
    return load_config(path)


def bridge_from(ctx: click.Context) -> Bridge:
    """A bridge built from the config; closed when the command ends."""
    from filebridge.bridge import Bridge

    bridge = Bridge(config_from(ctx))
    ctx.call_on_close(bridge.close)
    return bridge


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout, nothing else. Values keep their exact text for
    programs; what a terminal would act on (C1 controls, bidi overrides) is written as a
    JSON escape, in case a person reads it there."""
    sys.stdout.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=str))
                     + "\n")
