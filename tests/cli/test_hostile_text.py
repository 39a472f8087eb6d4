"""Every command shows what partners wrote as text: never rich markup, never a live
terminal control sequence, never a forged log line; with click's runner and with a
console that believes it is a terminal."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from filebridge.cli.main import cli
from filebridge.errors import TransportError
from filebridge.transports.memory import MemoryStore
from tests.cli.terminal import serve_on_terminal
from tests.factories import make_ack, make_order
from tests.hostile import (
    BIDI,
    ESCAPES,
    FORGED_LINE,
    INJECTED_STEPS,
    MARKUP,
    SHOWN_BIDI,
    SHOWN_ESCAPES,
    SHOWN_FORGED,
    SHOWN_MARKUP,
    assert_shown_as_text,
    on_screen,
)

ACKS = Path("drop/hauler/from_partner/acks")
ERRORS = Path("drop/hauler/from_partner/error")
FORGED_NAME = "ACK_2.xml" + FORGED_LINE
HEADER_NAME = "ACK_" + BIDI + ".csv"
HOSTILE_ID = "[/x]" + ESCAPES
# a tab is a control character, refused in a reference: the error quotes the value
PARTNER_REFERENCE = "[/x]\t[conceal]ref" + BIDI
SHOWN_PARTNER_REFERENCE = "[/x]\\x09[conceal]ref" + SHOWN_BIDI
# an SSH version with no space in it (paramiko cuts the banner at the first one)
BANNER_VERSION = "[/x]\x1b]8;;https://evil.example\x07link\x1b]8;;\x07"
# a line of the human log format: stamp, level, logger
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) ")
# terminal-like: rich writes colours, the env makes it think stdout is a terminal
TERMINAL = {"TTY_COMPATIBLE": "1", "COLUMNS": "1000"}
PIPE = {"TTY_COMPATIBLE": None, "FORCE_COLOR": None, "COLUMNS": "1000"}


@dataclass
class Workspace:
    """A config with a local partner that sent hostile files, and a memory partner
    whose server answers with hostile error texts."""

    root: Path
    config: Path
    depot: MemoryStore

    def fb(self, *args: str, terminal: bool = False) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--config", str(self.config), *args],
                             env=TERMINAL if terminal else PIPE, catch_exceptions=False)


def write_config(root: Path, depot: str) -> Path:
    config = root / "filebridge.toml"
    config.write_text(f"""\
[journal]
url = "sqlite:///journal.db"

[defaults]
settle_time = "0s"

[partners.hauler]
transport = "local"
root = "./drop/hauler"

[partners.depot]
transport = "memory"
root = "{depot}"
archive_keep = "30d"

[escalation]
levels = [ {{ after = "0m", notify = ["log:alerts"] }} ]
""", encoding="utf-8")
    return config


def hostile_files() -> dict[str, bytes]:
    """What the partner drops: a rejection whose reason holds markup, newlines and a bidi
    override; an ack whose OrderId and PartnerReference hold markup (refused, the error
    quotes them); a good ack under a name that forges a log line; a CSV whose header
    names carry escape sequences and an injected block, under a bidi name."""
    reject = make_ack(make_order("ORD-1"), "rejected",
                      reason_text=MARKUP + INJECTED_STEPS + BIDI).to_xml()
    bad_id = make_ack(make_order("ORD-1"), message_id="ACK-BAD").to_xml()
    bad_id = bad_id.replace(b"<OrderId>ORD-1</OrderId>",
                            f"<OrderId>{MARKUP}</OrderId>".encode())
    bad_id = bad_id.replace(b"RET-889", PARTNER_REFERENCE.encode())
    header = ("message_id,ref_message_id,order_id,status,reason_code,reason_text,"
              f"partner_reference,planned_date,created_at,{ESCAPES},"
              f'"notes{INJECTED_STEPS}"\n'
              "A-1,MSG-ORD-1-1,ORD-1,accepted,,,,,2026-11-28T10:24:02+01:00,x,y\n")
    return {
        "reject.xml": reject,
        "bad-id.xml": bad_id,
        FORGED_NAME: make_ack(make_order("ORD-2")).to_xml(),
        HEADER_NAME: header.encode(),
    }


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.chdir(tmp_path)
    name = f"mem-{uuid.uuid4().hex}"
    space = Workspace(tmp_path, write_config(tmp_path, name), MemoryStore.named(name))
    # given two orders whose own text holds markup (the backend's customers wrote it)
    for order_id in ("ORD-1", "ORD-2"):
        data = make_order(order_id).model_dump(mode="json")
        data["site"]["street"] = f"Storgata 12 {MARKUP} {BIDI}"
        (tmp_path / f"{order_id}.json").write_text(json.dumps(data))
        assert space.fb("send", "--partner", "hauler", f"{order_id}.json").exit_code == 0
    assert space.fb("run", "--once").exit_code == 0
    # and the partner's hostile answers
    for file_name, data in hostile_files().items():
        (tmp_path / ACKS / file_name).write_bytes(data)
    yield space
    MemoryStore.forget(name)


@pytest.fixture
def ingested(workspace: Workspace) -> tuple[Workspace, Result]:
    """The workspace after the pass that read the hostile files."""
    return workspace, workspace.fb("run", "--once")


def test_a_pass_over_hostile_files_logs_each_record_on_one_escaped_line(
        ingested: tuple[Workspace, Result]) -> None:
    _, result = ingested
    # then the pass worked: refused files are quarantined, not a failure
    assert result.exit_code == 0, result.output
    assert_shown_as_text(result.stdout + result.stderr)
    lines = [line for line in result.stderr.splitlines() if line]
    # and every line of the log is a record of its own, none forged
    assert lines and all(LOG_LINE.match(line) for line in lines), lines
    forged = [line for line in lines if "ORDER-FORGED" in line]
    assert forged and all(SHOWN_FORGED in line for line in forged)
    assert not any(line.startswith("2001-01-01") for line in lines)
    assert "received ack ACK_2.xml" + SHOWN_FORGED in result.stderr


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_every_report_shows_partner_text_as_text(
        ingested: tuple[Workspace, Result], terminal: bool) -> None:
    space, _ = ingested
    expected = {
        ("log", "--last", "50"): (0, (*SHOWN_MARKUP, *SHOWN_ESCAPES, SHOWN_FORGED,
                                      SHOWN_BIDI, SHOWN_PARTNER_REFERENCE)),
        ("show", "ORD-1"): (0, (*SHOWN_MARKUP, "\\x0aWhat to do:", SHOWN_BIDI)),
        ("status",): (0, ("Open alerts", "quarantined_file")),
        ("alerts",): (0, ("quarantined_file", "latest:")),
    }
    for args, (code, visible) in expected.items():
        # when an operator runs each report
        result = space.fb(*args, terminal=terminal)
        # then it works and shows the partner's text literally, and nothing live
        assert result.exit_code == code, (args, result.output)
        assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
        for text in visible:
            assert text in result.stdout, (args, text)


def test_json_reports_keep_the_exact_text_without_live_characters(
        ingested: tuple[Workspace, Result]) -> None:
    space, _ = ingested
    result = space.fb("log", "--json", "--last", "50")
    assert result.exit_code == 0
    assert_shown_as_text(result.stdout)
    # the JSON decodes to exactly what the partner wrote
    names = {record["file_name"] for record in json.loads(result.stdout)}
    assert FORGED_NAME in names and HEADER_NAME in names
    shown = space.fb("show", "ORD-1", "--json")
    assert_shown_as_text(shown.stdout)
    details = " ".join(entry["detail"] for entry in json.loads(shown.stdout)["timeline"])
    assert MARKUP + INJECTED_STEPS + BIDI in details


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_validate_shows_refused_files_and_their_names_as_text(
        ingested: tuple[Workspace, Result], terminal: bool) -> None:
    space, _ = ingested
    refused = sorted(str(path) for path in (space.root / ERRORS).iterdir()
                     if not path.name.endswith(".reason.txt"))
    assert len(refused) == 2
    result = space.fb("validate", *refused, terminal=terminal)
    assert result.exit_code == 1
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    for text in (SHOWN_MARKUP[0], *SHOWN_ESCAPES, SHOWN_BIDI):
        assert text in result.stdout, text


def test_reason_files_hold_one_escaped_line(ingested: tuple[Workspace, Result]) -> None:
    space, _ = ingested
    reasons = sorted((space.root / ERRORS).glob("*.reason.txt"))
    assert len(reasons) == 2
    for path in reasons:
        text = path.read_text(encoding="utf-8")
        assert_shown_as_text(text)
        assert text.count("\n") == 1 and text.endswith("\n")
    header_reason = (space.root / ERRORS / (HEADER_NAME + ".reason.txt")).read_text()
    assert SHOWN_ESCAPES[0] in header_reason and "\\x0aWhat to do:" in header_reason


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_errors_of_resend_and_send_are_one_line_of_text(
        workspace: Workspace, terminal: bool) -> None:
    # when an operator pastes a hostile id
    result = workspace.fb("resend", HOSTILE_ID, terminal=terminal)
    # then it is not found (exit 3), said on one line that shows the id as text
    assert result.exit_code == 3
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    (line,) = result.stderr.splitlines()
    assert line.startswith("filebridge: error: ") and "[/x]" + SHOWN_ESCAPES[0] in line
    # when a partner's order file with a hostile name and markup in its values is sent
    bad = make_order("ORD-9").to_xml().replace(b"<OrderId>ORD-9</OrderId>",
                                               f"<OrderId>{MARKUP}</OrderId>".encode())
    path = workspace.root / ("order\x1b[31mRED \x1b]0;pwned\x07title" + BIDI + ".xml")
    path.write_bytes(bad)
    result = workspace.fb("send", "--partner", "hauler", str(path), terminal=terminal)
    # then it fails (exit 1) and the error shows the name and the value as text
    assert result.exit_code == 1
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    assert "order\\x1b[31mRED \\x1b]0;pwned\\x07title" + SHOWN_BIDI in result.stderr
    assert SHOWN_MARKUP[0] in result.stderr


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_check_and_prune_show_a_hostile_server_error_as_text(
        workspace: Workspace, terminal: bool) -> None:
    # given a partner server whose errors quote hostile text
    server_says = f"permission denied: {MARKUP} {ESCAPES}{FORGED_LINE}"
    workspace.depot.fail_next("check", TransportError(server_says))
    result = workspace.fb("check", "depot", terminal=terminal)
    assert result.exit_code == 1
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    for text in (*SHOWN_MARKUP, *SHOWN_ESCAPES, SHOWN_FORGED):
        assert text in result.stdout, text
    # when prune cannot list that partner's archive
    workspace.depot.fail_next("list", TransportError(server_says))
    result = workspace.fb("prune", "--older-than", "90d", terminal=terminal)
    assert result.exit_code == 1
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    assert "not pruned: permission denied: [/x]" in on_screen(result.stdout)
    assert SHOWN_FORGED in result.stdout and SHOWN_FORGED in result.stderr
    assert all(LOG_LINE.match(line) for line in result.stderr.splitlines() if line)


def test_the_live_view_on_a_terminal_shows_partner_text_and_stops_cleanly(
        ingested: tuple[Workspace, Result]) -> None:
    # given a journal full of hostile partner text, and the daemon started on a terminal
    space, _ = ingested
    # when the panel shows the exchanges with hostile names, and SIGTERM stops it
    screen, returncode = serve_on_terminal(space.config, space.root, b"ORDER-FORGED",
                                           columns=400)
    # then it ran (no markup error at start) and stopped with exit code 0
    assert returncode == 0, screen[-3000:]
    assert "filebridge run" in screen and "filebridge stopped" in screen
    # and the names show as text, with nothing of them live on the terminal
    assert_shown_as_text(screen, terminal=True)
    assert SHOWN_FORGED in on_screen(screen)


@pytest.fixture
def hostile_banner_server() -> Iterator[int]:
    """A TCP server on loopback that greets like an SSH server whose banner holds markup,
    an OSC 8 hyperlink and a BEL; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            with peer:
                peer.sendall(f"SSH-{BANNER_VERSION}-evil\r\n".encode())
                with contextlib.suppress(OSError):
                    peer.recv(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_check_shows_a_hostile_ssh_banner_as_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile_banner_server: int,
        terminal: bool) -> None:
    # given an SFTP partner whose server sends a banner full of markup and escapes
    monkeypatch.setenv("EVIL_SFTP_PASSWORD", "not-used-here")
    (tmp_path / "known_hosts").write_text("")
    config = tmp_path / "filebridge.toml"
    config.write_text(f"""\
[journal]
url = "sqlite:///journal.db"

[partners.evil]
transport = "sftp"
host = "127.0.0.1"
port = {hostile_banner_server}
username = "u"
password_env = "EVIL_SFTP_PASSWORD"
known_hosts = "known_hosts"
""", encoding="utf-8")
    # when an operator checks it
    result = CliRunner().invoke(cli, ["--config", str(config), "check", "evil"],
                                env=TERMINAL if terminal else PIPE, catch_exceptions=False)
    # then the check fails (exit 1) and shows the banner as text, nothing live
    assert result.exit_code == 1
    assert_shown_as_text(result.stdout + result.stderr, terminal=terminal)
    assert "[/x]\\x1b]8;;https://evil.example\\x07link" in on_screen(result.stdout)
