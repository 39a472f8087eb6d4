"""The operator guide documents every command and option the CLI has, and no other, and
every command line the guides show is one the CLI accepts."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from filebridge.cli import commands
from filebridge.cli.main import cli
from tests.docs.guides import GUIDES, OPERATOR_GUIDE, Section, code_blocks, read, section, sections


def command_paths() -> dict[tuple[str, ...], click.Command]:
    """Every registered command and subcommand by its words: ("alerts", "ack")."""
    found: dict[tuple[str, ...], click.Command] = {}

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found[path] = command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    for command in commands.ALL:
        assert command.name is not None
        walk(command, (command.name,))
    return found


COMMANDS = command_paths()
#: commands that do something themselves; a group that only holds subcommands
#: (``filebridge journal``) is documented through them
ACTIONS = {path: command for path, command in COMMANDS.items()
           if not isinstance(command, click.Group) or command.invoke_without_command}
GUIDE = read(OPERATOR_GUIDE)


def long_options(command: click.Command) -> list[str]:
    return sorted(opt for param in command.params if isinstance(param, click.Option)
                  for opt in param.opts if opt.startswith("--") and opt != "--help")


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def command_of(heading: Section) -> tuple[str, ...] | None:
    """The command a "### `filebridge alerts ack ALERT_ID`" heading documents."""
    spans = heading.code_spans
    if not spans or not spans[0].startswith("filebridge "):
        return None
    words = spans[0].split()[1:]
    path: tuple[str, ...] = ()
    for word in words:
        if (*path, word) not in COMMANDS:
            break
        path = (*path, word)
    return path or ("?", *words[:1])


def command_sections() -> dict[tuple[str, ...], Section]:
    """The sections under "## Commands", by the command each documents."""
    body = section(GUIDE, "Commands").body
    found: dict[tuple[str, ...], Section] = {}
    for heading in sections(body):
        path = command_of(heading)
        if path is not None:
            assert path not in found, f"two sections document filebridge {' '.join(path)}"
            found[path] = heading
    return found


def test_every_registered_command_is_mentioned_in_the_operator_guide() -> None:
    for path in COMMANDS:
        assert f"filebridge {' '.join(path)}" in GUIDE, f"filebridge {' '.join(path)} not mentioned"


def test_every_command_has_its_own_section_and_every_section_is_a_real_command() -> None:
    documented = command_sections()
    assert set(documented) == set(ACTIONS), (
        f"undocumented: {sorted(set(ACTIONS) - set(documented))}, "
        f"not commands: {sorted(set(documented) - set(ACTIONS))}")


@pytest.mark.parametrize("path", sorted(ACTIONS), ids=" ".join)
def test_every_option_of_a_command_is_explained_in_its_section(path: tuple[str, ...]) -> None:
    documented = command_sections()
    assert path in documented, f"filebridge {' '.join(path)} has no section of its own"
    text = documented[path]
    content = f"{text.title}\n{text.body}"
    missing = [opt for opt in long_options(ACTIONS[path]) if not mentions(content, opt)]
    assert not missing, f"filebridge {' '.join(path)}: options not documented: {missing}"


def test_the_global_options_are_documented() -> None:
    for option in long_options(cli):
        assert mentions(GUIDE, option), f"global option {option} not documented"


def command_lines() -> list[list[str]]:
    """Every ``filebridge ...`` invocation in the guides' shell examples, as words."""
    found = []
    for guide in GUIDES:
        for block in code_blocks(read(guide)):
            if block.language not in ("sh", "bash", "shell"):
                continue
            for line in block.text.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                while words:
                    cut = next((i for i, w in enumerate(words) if w in ("&&", "||", "|", ";")),
                               len(words))
                    part, words = words[:cut], words[cut + 1:]
                    if part and part[0].endswith("filebridge") and "--help" not in part:
                        found.append(part[1:])
    return found


def split_options(command: click.Command, words: list[str]) -> tuple[list[str], list[str]]:
    """A group's own option words, and the words from its subcommand's name on."""
    takes_value = {opt: not (param.is_flag or param.count) for param in command.params
                   if isinstance(param, click.Option) for opt in param.opts}
    index = 0
    while index < len(words) and words[index].startswith("-"):
        name = words[index].split("=", 1)[0]
        assert name in takes_value, f"{name} is not an option of {command.name}"
        index += 2 if takes_value[name] and "=" not in words[index] else 1
    return words[:index], words[index:]


def parse(command: click.Command, name: str, words: list[str]) -> None:
    """Parse like the CLI does, without running anything; raises on a bad command line."""
    if not isinstance(command, click.Group):
        command.make_context(name, list(words))
        return
    own, rest = split_options(command, words)
    if not rest:
        assert command.invoke_without_command, f"{name} needs a command"
        command.make_context(name, own)
        return
    # the top-level group gets its commands only when the CLI starts; use the registry
    children = {c.name: c for c in commands.ALL} if command is cli else command.commands
    sub = children.get(rest[0])
    assert sub is not None, f"{rest[0]!r} is not a command of {name}"
    parse(sub, rest[0], rest[1:])


def test_every_command_line_in_the_guides_is_accepted_by_the_cli() -> None:
    lines = command_lines()
    assert len(lines) > 20
    for words in lines:
        if "--version" in words:
            continue
        try:
            parse(cli, "filebridge", words)
        except (click.UsageError, AssertionError) as exc:
            pytest.fail(f"filebridge {shlex.join(words)}: {exc}")


def test_a_wrong_command_line_is_caught_by_the_parser_above() -> None:
    # the check above must be able to fail: an unknown option and a missing argument
    with pytest.raises(click.UsageError):
        parse(cli, "filebridge", ["resend", "--no-such-option"])
    with pytest.raises(click.UsageError):
        parse(cli, "filebridge", ["show"])
