"""``filebridge check``: an operator checks partners' folders before (or while) running."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from filebridge.cli.main import _register, cli
from tests.servers.sshd import SshdServer, write_private_key

_register()

FOLDERS = ["to_partner/orders", "from_partner/acks", "from_partner/results",
           "from_partner/archive", "from_partner/error"]


def toml_table(name: str, table: dict[str, Any]) -> str:
    lines = [f"[partners.{name}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in table.items() if value is not None]
    return "\n".join(lines) + "\n"


def write_config(folder: Path, partners: dict[str, dict[str, Any]]) -> Path:
    path = folder / "filebridge.toml"
    path.write_text('[journal]\nurl = "sqlite:///journal.db"\n\n'
                    + "\n".join(toml_table(name, table) for name, table in partners.items()))
    return path


def run_check(config: Path, *args: str) -> Result:
    # wide enough that rich does not fold the fingerprints in the table
    return CliRunner(env={"COLUMNS": "250"}).invoke(
        cli, ["--config", str(config), "check", *args], catch_exceptions=False)


@pytest.fixture
def partner_root(sshd_server: SshdServer) -> Path:
    path = sshd_server.root / secrets.token_hex(4)
    path.mkdir()
    return path


def test_a_good_sftp_partner_passes_and_its_folders_are_created(
    sshd_server: SshdServer, partner_root: Path, tmp_path: Path
) -> None:
    # given a partner whose root does not exist yet on its server
    root = partner_root / "inbox"
    config = write_config(tmp_path, {"retura": sshd_server.partner(root=str(root))})
    result = run_check(config)
    assert result.exit_code == 0, result.output
    assert "PASS retura: all 8 checks passed" in result.output
    assert "host key" in result.output and "SHA256:" in result.output
    assert all((root / folder).is_dir() for folder in FOLDERS)


def test_json_lists_every_check_per_partner(
    sshd_server: SshdServer, partner_root: Path, tmp_path: Path
) -> None:
    local_root = tmp_path / "drop" / "depot"
    config = write_config(tmp_path, {
        "retura": sshd_server.partner(root=str(partner_root)),
        "depot": {"transport": "local", "root": "./drop/depot"},
    })
    table = run_check(config)
    assert table.exit_code == 0, table.output
    assert "PASS all 2 partners passed" in table.output
    result = run_check(config, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert set(report["partners"]) == {"retura", "depot"}
    retura = report["partners"]["retura"]
    assert retura["transport"] == "sftp"
    assert [c["check"] for c in retura["checks"]] == ["connection", "host key", "login", *FOLDERS]
    assert all(c["ok"] for c in retura["checks"])
    depot = report["partners"]["depot"]
    assert depot["ok"] and {c["check"] for c in depot["checks"]} >= set(FOLDERS)
    assert all((local_root / folder).is_dir() for folder in FOLDERS)


def test_only_the_named_partner_is_checked(
    sshd_server: SshdServer, partner_root: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, {
        "retura": sshd_server.partner(root=str(partner_root)),
        "broken": sshd_server.partner(root=str(partner_root), port=1),
    })
    result = run_check(config, "retura", "--json")
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["partners"]) == ["retura"]


def test_a_wrong_host_key_fails_with_a_clear_line_and_touches_nothing(
    sshd_server: SshdServer, partner_root: Path, tmp_path: Path
) -> None:
    # given a known_hosts entry for this server that holds some other key
    impostor = write_private_key(tmp_path / "other_host_key")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{sshd_server.known_hosts_entry} {impostor}\n")
    config = write_config(tmp_path, {
        "retura": sshd_server.partner(root=str(partner_root), known_hosts=str(known_hosts))})
    # when the operator checks, then it fails with a verdict line naming the check
    result = run_check(config)
    assert result.exit_code == 1, result.output
    assert "FAIL retura: 1 of 2 checks failed: host key" in result.output
    # and the detail says which host, what was offered and what was expected
    report = run_check(config, "--json")
    assert report.exit_code == 1
    [connection, host_key] = json.loads(report.stdout)["partners"]["retura"]["checks"]
    assert connection["ok"] and not host_key["ok"]
    assert host_key["detail"].startswith(
        f"host key refused: {sshd_server.known_hosts_entry} offered ssh-ed25519 SHA256:")
    assert f"{known_hosts} expects ssh-ed25519 SHA256:" in host_key["detail"]
    # and nothing was created on the server
    assert list(partner_root.iterdir()) == []


def test_a_folder_that_cannot_be_created_fails_naming_it(
    sshd_server: SshdServer, partner_root: Path, tmp_path: Path
) -> None:
    # given a regular file where the orders folder's parent should be
    (partner_root / "to_partner").write_text("not a folder")
    config = write_config(tmp_path, {"retura": sshd_server.partner(root=str(partner_root))})
    result = run_check(config, "--json")
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)["partners"]["retura"]["checks"]}
    assert not checks["to_partner/orders"]["ok"]
    assert "to_partner is a file, not a folder" in checks["to_partner/orders"]["detail"]
    assert all(checks[folder]["ok"] for folder in FOLDERS[1:])
    # and the table says the same to a person
    table = run_check(config)
    assert table.exit_code == 1
    assert "FAIL retura: 1 of 8 checks failed: to_partner/orders" in table.output


def test_an_unreachable_partner_fails_at_the_connection(tmp_path: Path) -> None:
    from tests.support import free_port

    config = write_config(tmp_path, {"retura": {
        "transport": "sftp", "host": "127.0.0.1", "port": free_port(), "username": "x",
        "key_file": "id_none", "known_hosts": "known_hosts", "connect_timeout": "2s"}})
    result = run_check(config)
    assert result.exit_code == 1
    assert "FAIL retura: 1 of 1 checks failed: connection" in result.output


def test_an_unknown_partner_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"depot": {"transport": "local", "root": "./drop"}})
    result = run_check(config, "nobody")
    assert result.exit_code == 3
    assert "unknown partner 'nobody'" in result.output


def test_a_bad_config_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"retura": {"transport": "sftp", "host": "127.0.0.1"}})
    result = run_check(config)
    assert result.exit_code == 2
    assert "username is required" in result.output
