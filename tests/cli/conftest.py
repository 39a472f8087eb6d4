"""Run the real CLI (click's runner) against a config with local drop folders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from filebridge.cli.main import _register, cli

_register()

CONFIG = """\
[journal]
url = "sqlite:///journal.db"

[defaults]
settle_time = "0s"
max_attempts = 2

[partners.hauler]
transport = "local"
root = "./drop/hauler"
"""

Invoke = Callable[..., Result]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "filebridge.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def fb(config_file: Path) -> Invoke:
    """``fb("status", "--json")`` runs ``filebridge --config <tmp config> status --json``."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, ["--config", str(config_file), *args], input=input,
                             catch_exceptions=False)

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
