"""The SFTP transport when things go wrong: changed or unknown host keys, refused logins,
a server that goes down, hangs, or dies in the middle of an upload."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from filebridge.clock import ManualClock
from filebridge.errors import HostKeyMismatch, PartnerUnreachable
from filebridge.transports.sftp import SftpTransport
from tests.servers.sshd import PasswordUser, SshdServer, wait_for

OpenSftp = Callable[..., SftpTransport]
ServerFactory = Callable[[], SshdServer]
ORDERS = "to_partner/orders"


def fingerprint(public_line: str) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it, worked out independently."""
    digest = hashlib.sha256(base64.b64decode(public_line.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@pytest.fixture
def root(sshd_server: SshdServer) -> Path:
    path = sshd_server.root / secrets.token_hex(4)
    path.mkdir()
    return path


# -- host keys ----------------------------------------------------------------------

def test_a_changed_host_key_is_refused_naming_both_fingerprints(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    # given a server whose key we know, and which then gets a new one
    server = sshd_factory()
    old_key = server.host_public_key()
    server.rotate_host_key()
    new_key = server.host_public_key()
    transport = open_sftp(server, server.root)
    # when we try to upload, then the key is refused, saying what was offered and expected
    with pytest.raises(HostKeyMismatch) as refused:
        transport.put_atomic(".", "ORDER_1_1.xml", b"x")
    message = str(refused.value)
    assert server.known_hosts_entry in message
    assert f"ssh-ed25519 {fingerprint(new_key)}" in message
    assert f"ssh-ed25519 {fingerprint(old_key)}" in message
    # and nothing reached the server, and known_hosts was not touched
    assert list(server.root.iterdir()) == []
    assert server.known_hosts.read_text().split()[2] == old_key.split()[1]


def test_an_unknown_host_is_refused_and_nothing_is_added(
    sshd_server: SshdServer, root: Path, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = open_sftp(sshd_server, root, known_hosts=str(empty))
    with pytest.raises(HostKeyMismatch, match=r"is not in .*known_hosts") as refused:
        transport.put_atomic(".", "ORDER_1_1.xml", b"x")
    assert fingerprint(sshd_server.host_public_key()) in str(refused.value)
    assert empty.read_text() == ""
    assert list(root.iterdir()) == []


def test_an_entry_without_the_port_does_not_vouch_for_another_port(
    sshd_server: SshdServer, root: Path, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    # OpenSSH writes [host]:port for ports other than 22; a bare host entry is for port 22
    bare = tmp_path / "known_hosts"
    bare.write_text(f"{sshd_server.host} {sshd_server.host_public_key()}\n")
    transport = open_sftp(sshd_server, root, known_hosts=str(bare))
    with pytest.raises(HostKeyMismatch, match=r"\[127\.0\.0\.1\]:\d+ is not in"):
        transport.exists("anything")


def test_hashed_known_hosts_entries_are_honoured(
    sshd_server: SshdServer, root: Path, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    hashed = tmp_path / "known_hosts"
    name = paramiko.HostKeys.hash_host(sshd_server.known_hosts_entry)
    hashed.write_text(f"{name} {sshd_server.host_public_key()}\n")
    transport = open_sftp(sshd_server, root, known_hosts=str(hashed))
    assert transport.exists("anything") is False


def test_the_key_type_known_is_asked_for_when_the_server_has_several(
    sshd_factory: ServerFactory, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    # given a server with ed25519 and RSA host keys, and known_hosts holding only the RSA one
    server = sshd_factory()
    rsa_key = server.add_host_key("rsa")
    server.stop()
    server.start()
    only_rsa = tmp_path / "known_hosts"
    only_rsa.write_text(f"{server.known_hosts_entry} {rsa_key}\n")
    transport = open_sftp(server, server.root, known_hosts=str(only_rsa))
    # when we check, then the server proves itself with the key we know
    rows = {row.name: row for row in transport.check([])}
    assert rows["host key"].ok, rows["host key"].detail
    assert rows["host key"].detail.startswith(f"ssh-rsa {fingerprint(rsa_key)}")


def test_disabled_algorithms_are_passed_to_the_handshake(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp
) -> None:
    # the server only has an ed25519 host key; refusing that type leaves nothing to agree on
    transport = open_sftp(sshd_server, root, disabled_algorithms={"keys": ["ssh-ed25519"]})
    with pytest.raises(PartnerUnreachable, match="SSH handshake failed") as refused:
        transport.exists("anything")
    assert not isinstance(refused.value, HostKeyMismatch)


def test_a_missing_known_hosts_file_is_reported_with_its_path(
    sshd_server: SshdServer, root: Path, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    missing = tmp_path / "nowhere" / "known_hosts"
    transport = open_sftp(sshd_server, root, known_hosts=str(missing))
    with pytest.raises(PartnerUnreachable, match=r"known_hosts file .*nowhere/known_hosts"):
        transport.exists("anything")


# -- logins -------------------------------------------------------------------------

def test_a_wrong_password_is_refused_without_showing_it(
    sshd_server: SshdServer, sftp_password_user: PasswordUser, open_sftp: OpenSftp,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-" + secrets.token_hex(6)
    monkeypatch.setenv("TEST_SFTP_PASSWORD", wrong)
    transport = open_sftp(sshd_server, sftp_password_user.home, key_file=None, root=".",
                          username=sftp_password_user.name, password_env="TEST_SFTP_PASSWORD")
    with caplog.at_level(logging.DEBUG), pytest.raises(PartnerUnreachable,
                                                       match="login refused") as refused:
        transport.exists("x")
    assert wrong not in str(refused.value)
    assert wrong not in caplog.text


def test_a_missing_password_variable_is_named(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_UNSET_PASSWORD", raising=False)
    transport = open_sftp(sshd_server, root, key_file=None, password_env="TEST_UNSET_PASSWORD")
    with pytest.raises(PartnerUnreachable, match=r"\$TEST_UNSET_PASSWORD is not set"):
        transport.exists("x")


def test_an_encrypted_key_with_a_wrong_passphrase_is_refused_without_showing_it(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    key = sshd_server.add_user_key(f"id_locked_{secrets.token_hex(3)}", "ed25519",
                                   passphrase="right one")
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", "wrong-passphrase-value")
    transport = open_sftp(sshd_server, root, key_file=str(key),
                          key_passphrase_env="TEST_KEY_PASSPHRASE")
    with caplog.at_level(logging.DEBUG), pytest.raises(PartnerUnreachable,
                                                       match=str(key)) as refused:
        transport.exists("x")
    assert "wrong-passphrase-value" not in str(refused.value) + caplog.text
    # and without any passphrase the message says what to set
    monkeypatch.delenv("TEST_KEY_PASSPHRASE")
    locked = open_sftp(sshd_server, root, key_file=str(key))
    with pytest.raises(PartnerUnreachable, match="encrypted: set key_passphrase_env"):
        locked.exists("x")


def test_a_key_the_server_does_not_accept_is_a_refused_login(
    sshd_server: SshdServer, root: Path, tmp_path: Path, open_sftp: OpenSftp
) -> None:
    from tests.servers.sshd import write_private_key

    stranger = tmp_path / "id_stranger"
    write_private_key(stranger)
    transport = open_sftp(sshd_server, root, key_file=str(stranger))
    with pytest.raises(PartnerUnreachable, match="login refused"):
        transport.exists("x")


# -- the server goes away -----------------------------------------------------------

def test_a_stopped_server_is_unreachable_and_the_same_transport_recovers(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    # given a working transport (its clock is ours, so the reconnect delay is too)
    server = sshd_factory()
    clock = ManualClock()
    transport = open_sftp(server, server.root, clock=clock)
    transport.put_atomic(".", "ORDER_1_1.xml", b"1")
    # when the server goes down, then operations fail as unreachable (the first may find
    # the old connection dead, the next finds nobody listening)
    server.stop()
    for _ in range(2):
        with pytest.raises(PartnerUnreachable, match=f"{server.host}:{server.port}"):
            transport.put_atomic(".", "ORDER_2_1.xml", b"2")
    # and while the reconnect delay runs, calls fail at once without hammering the server
    server.start()
    with pytest.raises(PartnerUnreachable, match="next connection attempt in"):
        transport.exists("ORDER_1_1.xml")
    # when the delay has passed, the same transport reconnects and works
    clock.advance(minutes=5)
    assert transport.put_atomic(".", "ORDER_2_1.xml", b"2") == "ORDER_2_1.xml"
    assert sorted(p.name for p in server.root.iterdir()) == ["ORDER_1_1.xml", "ORDER_2_1.xml"]


def test_the_connection_is_reused_across_operations(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    server = sshd_factory()
    transport = open_sftp(server, server.root)
    for n in range(5):
        transport.put_atomic(".", f"ORDER_{n}_1.xml", b"x")
        transport.list(".")
    assert server.log.read_text().count("Accepted publickey") == 1


def test_a_connection_killed_mid_upload_leaves_no_file_under_the_final_name(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    # given a 20 MB upload in progress
    server = sshd_factory()
    transport = open_sftp(server, server.root)
    transport.ensure_folders([ORDERS])
    folder = server.root / ORDERS
    data = os.urandom(20 * 1024 * 1024)

    def part_is_growing() -> bool:
        return any(p.name.endswith(".part") and p.stat().st_size > 0 for p in folder.iterdir())

    with ThreadPoolExecutor(max_workers=1) as pool:
        upload = pool.submit(transport.put_atomic, ORDERS, "ORDERS_big.csv", data)
        wait_for(part_is_growing, "the .part file to start growing")
        # when the server freezes and is then killed with the upload half done
        server.pause_sessions()
        server.stop()
        # then the upload fails as unreachable (not as a broken file)
        with pytest.raises(PartnerUnreachable):
            upload.result()
    # and the final name never existed; at most a .part is left, which partners ignore
    names = [p.name for p in folder.iterdir()]
    assert "ORDERS_big.csv" not in names
    assert all(name.startswith("ORDERS_big.csv.") and name.endswith(".part") for name in names)


def test_a_hanging_server_fails_the_operation_at_its_deadline_and_is_rebuilt(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    # given a server that stops answering in the middle of a session
    server = sshd_factory()
    transport = open_sftp(server, server.root, operation_timeout="1s")
    transport.ensure_folders([ORDERS])
    server.pause_sessions()
    # when we upload, then the deadline turns the hang into "unreachable"
    with pytest.raises(PartnerUnreachable, match="no answer within 1s"):
        transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x" * 100_000)
    assert "ORDER_1_1.xml" not in [p.name for p in (server.root / ORDERS).iterdir()]
    # and once the server answers again, a fresh connection carries on
    server.resume_sessions()
    assert transport.put_atomic(ORDERS, "ORDER_1_1.xml", b"x") == f"{ORDERS}/ORDER_1_1.xml"
    assert server.log.read_text().count("Accepted publickey") == 2


def test_nothing_listens_on_the_port(
    sshd_factory: ServerFactory, open_sftp: OpenSftp
) -> None:
    server = sshd_factory()
    server.stop()
    transport = open_sftp(server, server.root)
    with pytest.raises(PartnerUnreachable, match="cannot connect") as refused:
        transport.list(".")
    assert not isinstance(refused.value, HostKeyMismatch)
