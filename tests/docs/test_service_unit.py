"""The sample systemd unit starts the daemon the way the CLI expects and the operator
guide describes: as a dedicated user, ``filebridge ... run``, restarted on failure but
not on a configuration error, stopped with a signal the daemon handles gracefully."""

from __future__ import annotations

import configparser
import shlex

import click

from filebridge.cli.daemon import run
from filebridge.cli.main import EXIT_USAGE, cli
from tests.docs.guides import ROOT

UNIT = ROOT / "samples" / "filebridge.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def option_words(command: click.Command) -> set[str]:
    return {opt for param in command.params if isinstance(param, click.Option)
            for opt in param.opts}


def test_exec_start_runs_the_filebridge_daemon_with_an_absolute_config() -> None:
    words = shlex.split(service()["ExecStart"])
    assert words[0].startswith("/") and words[0].endswith("/filebridge")
    assert "run" in words
    before, after = words[1:words.index("run")], words[words.index("run") + 1:]
    assert "--config" in before and before[before.index("--config") + 1].startswith("/")
    for word in before:
        assert not word.startswith("-") or word in option_words(cli), word
    for word in after:
        assert word.split("=", 1)[0] in option_words(run), f"run has no option {word}"
    assert "--once" not in after  # a service runs the daemon, not one pass


def test_the_service_runs_as_a_dedicated_user_with_a_private_umask() -> None:
    unit = service()
    assert unit.get("User") not in (None, "", "root", "0")
    assert int(unit["UMask"], 8) & 0o007 == 0o007  # nothing for others


def test_restart_on_failure_but_not_on_a_configuration_error() -> None:
    unit = service()
    assert unit["Restart"] == "on-failure"
    assert str(EXIT_USAGE) in unit["RestartPreventExitStatus"].split()


def test_systemd_stops_it_with_a_signal_the_daemon_finishes_its_pass_on() -> None:
    # `filebridge run` handles SIGTERM and SIGINT; systemd's default is SIGTERM
    assert service().get("KillSignal", "SIGTERM") in ("SIGTERM", "SIGINT")
