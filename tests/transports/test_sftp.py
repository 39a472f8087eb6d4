"""The SFTP transport against a real OpenSSH sshd on loopback: logins, uploads, listings,
moves and folder checks, as a partner's server would see them."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest

from filebridge.errors import FileAlreadyExists, RemoteFileMissing, TransportError
from filebridge.transports.sftp import SftpTransport
from tests.servers.sshd import PasswordUser, SshdServer
from tests.transports.contract import LocalPeer, TransportContract

OpenSftp = Callable[..., SftpTransport]
ORDERS = "to_partner/orders"
ACKS = "from_partner/acks"
ERRORS = "from_partner/error"


@pytest.fixture
def root(sshd_server: SshdServer) -> Path:
    """A partner root of its own on the shared server, so tests never see each other."""
    path = sshd_server.root / secrets.token_hex(4)
    path.mkdir()
    return path


@pytest.fixture
def sftp(sshd_server: SshdServer, root: Path, open_sftp: OpenSftp) -> SftpTransport:
    transport = open_sftp(sshd_server, root)
    transport.ensure_folders([ORDERS, ACKS, ERRORS])
    return transport


def files_in(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


class TestSftpContract(TransportContract):
    """The shared transport contract, over SFTP; the partner works on the disk below."""

    @pytest.fixture
    def transport(self, sshd_server: SshdServer, root: Path,
                  open_sftp: OpenSftp) -> SftpTransport:
        return open_sftp(sshd_server, root)

    @pytest.fixture
    def peer(self, root: Path) -> LocalPeer:
        return LocalPeer(root)


# -- logins -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_logs_in_with_each_key_type_and_uploads(
    kind: str, sshd_server: SshdServer, root: Path, open_sftp: OpenSftp
) -> None:
    # given a key of this type in the server's authorized keys (RSA signs with rsa-sha2:
    # OpenSSH 8.8+ refuses the old ssh-rsa signatures)
    key = sshd_server.add_user_key(f"id_{kind}_{secrets.token_hex(3)}", kind)
    transport = open_sftp(sshd_server, root, key_file=str(key))
    # when an order is uploaded
    path = transport.put_atomic(".", "ORDER_A_1.xml", b"<order/>")
    # then it is on the server under its final name, whole
    assert path == "ORDER_A_1.xml"
    assert (root / "ORDER_A_1.xml").read_bytes() == b"<order/>"


def test_encrypted_key_is_opened_with_the_passphrase_from_the_environment(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = sshd_server.add_user_key(f"id_locked_{secrets.token_hex(3)}", "ed25519",
                                   passphrase="correct horse")
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", "correct horse")
    transport = open_sftp(sshd_server, root, key_file=str(key),
                          key_passphrase_env="TEST_KEY_PASSPHRASE")
    transport.put_atomic(".", "ORDER_B_1.xml", b"b")
    assert (root / "ORDER_B_1.xml").read_bytes() == b"b"


def test_password_login_from_the_environment(
    sshd_server: SshdServer, sftp_password_user: PasswordUser, open_sftp: OpenSftp,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a partner account that logs in with a password (no key)
    monkeypatch.setenv("TEST_SFTP_PASSWORD", sftp_password_user.password)
    home = sftp_password_user.home
    transport = open_sftp(sshd_server, home, username=sftp_password_user.name,
                          key_file=None, password_env="TEST_SFTP_PASSWORD", root=".")
    # when we upload into the login folder (a relative root)
    transport.put_atomic(".", "ORDER_C_1.xml", b"c")
    # then the file belongs to that account, in its home
    written = home / "ORDER_C_1.xml"
    assert written.read_bytes() == b"c"
    assert written.stat().st_uid == os.stat(home).st_uid != 0


# -- uploads ------------------------------------------------------------------------

def test_upload_never_overwrites_and_leaves_no_part_file(sftp: SftpTransport, root: Path) -> None:
    sftp.put_atomic(ORDERS, "ORDER_1_1.xml", b"first")
    with pytest.raises(FileAlreadyExists, match=r"ORDER_1_1\.xml"):
        sftp.put_atomic(ORDERS, "ORDER_1_1.xml", b"second")
    assert (root / ORDERS / "ORDER_1_1.xml").read_bytes() == b"first"
    assert files_in(root / ORDERS) == ["ORDER_1_1.xml"]


def test_upload_of_a_large_file_arrives_whole(sftp: SftpTransport, root: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    sftp.put_atomic(ORDERS, "ORDERS_big.csv", data)
    assert (root / ORDERS / "ORDERS_big.csv").read_bytes() == data


def test_upload_refuses_names_that_leave_the_folder(sftp: SftpTransport, root: Path) -> None:
    for name in ("../escape.xml", "..", "a/b.xml"):
        with pytest.raises(TransportError):
            sftp.put_atomic(ORDERS, name, b"x")
    with pytest.raises(TransportError):
        sftp.put_atomic("../outside", "ok.xml", b"x")
    assert not (root.parent / "escape.xml").exists()
    assert files_in(root / ORDERS) == []


def bulk(transport: SftpTransport, folder: str, items: list[tuple[str, bytes]]
         ) -> list[str | TransportError]:
    """Bulk dispatch as the engine does it: stage every temp, then publish every one."""
    staged = [(name, f"t{number}", data) for number, (name, data) in enumerate(items)]
    assert all(isinstance(result, str) for result in transport.stage_many(folder, staged))
    return transport.publish_many(folder, [(name, token) for name, token, _ in staged])


def test_bulk_dispatch_lands_every_file_exactly_once_over_the_channel_pool(
    sshd_factory: Callable[[], SshdServer], tmp_path: Path, open_sftp: OpenSftp
) -> None:
    # given a private server, so its log shows only our connection
    server = sshd_factory()
    transport = open_sftp(server, server.root, connections=4)
    transport.ensure_folders([ORDERS])
    items = [(f"ORDER_{i:03d}_1.xml", f"<order n='{i}'/>".encode()) for i in range(200)]
    # when 200 orders go out in one bulk dispatch
    results = bulk(transport, ORDERS, items)
    # then each landed once, whole, under its own name, and no temp file is left
    assert results == [f"{ORDERS}/{name}" for name, _ in items]
    folder = server.root / ORDERS
    assert files_in(folder) == sorted(name for name, _ in items)
    assert all((folder / name).read_bytes() == data for name, data in items)
    # over one SSH login and at most the configured number of SFTP channels
    log = server.log.read_text()
    assert log.count("Accepted publickey") == 1
    assert 1 <= log.count("subsystem 'sftp'") <= 4


def test_bulk_dispatch_makes_do_when_the_server_allows_fewer_channels(
    sshd_factory: Callable[[], SshdServer], open_sftp: OpenSftp
) -> None:
    # given a server that allows 2 sessions per connection and a partner set to 6 channels
    server = sshd_factory()
    server.max_sessions = 2
    server.stop()
    server.start()
    transport = open_sftp(server, server.root, connections=6)
    # (enough files for six pipelines at once, so four of them must wait their turn)
    items = [(f"ORDER_{i:03d}_1.xml", b"x") for i in range(400)]
    # when a bulk dispatch runs, then every file still lands, over the channels allowed
    assert bulk(transport, ORDERS, items) == [f"{ORDERS}/{name}" for name, _ in items]
    assert files_in(server.root / ORDERS) == [name for name, _ in items]
    assert server.log.read_text().count("subsystem 'sftp'") <= 2


def test_bulk_dispatch_reports_a_taken_name_without_stopping_the_others(
    sftp: SftpTransport, root: Path
) -> None:
    (root / ORDERS / "ORDER_2_1.xml").write_bytes(b"theirs")
    results = bulk(sftp, ORDERS, [("ORDER_1_1.xml", b"1"), ("ORDER_2_1.xml", b"2"),
                                  ("ORDER_3_1.xml", b"3")])
    assert results[0] == f"{ORDERS}/ORDER_1_1.xml"
    assert isinstance(results[1], FileAlreadyExists)
    assert results[2] == f"{ORDERS}/ORDER_3_1.xml"
    assert (root / ORDERS / "ORDER_2_1.xml").read_bytes() == b"theirs"


def test_pickup_is_seen_through_exists(sftp: SftpTransport, root: Path) -> None:
    path = sftp.put_atomic(ORDERS, "ORDER_9_1.xml", b"x")
    assert sftp.exists(path)
    (root / path).unlink()  # the partner picked it up
    assert not sftp.exists(path)


# -- inbound ------------------------------------------------------------------------

def test_listing_shows_regular_files_with_size_and_mtime(sftp: SftpTransport, root: Path) -> None:
    acks = root / ACKS
    (acks / "ACK_1.xml").write_bytes(b"12345")
    (acks / ".hidden").write_bytes(b"")
    (acks / "ACK_2.xml.filepart").write_bytes(b"12")
    (acks / "sub").mkdir()
    os.utime(acks / "ACK_1.xml", (1_700_000_000, 1_700_000_000))
    listing = {f.name: f for f in sftp.list(ACKS)}
    assert sorted(listing) == [".hidden", "ACK_1.xml", "ACK_2.xml.filepart"]
    assert listing["ACK_1.xml"].size == 5
    assert listing["ACK_1.xml"].mtime == 1_700_000_000
    assert listing["ACK_1.xml"].path == f"{ACKS}/ACK_1.xml"


def test_a_file_uploaded_slowly_is_listed_with_growing_size(
    sshd_server: SshdServer, sftp: SftpTransport, root: Path
) -> None:
    # given a partner uploading over its own SFTP session, chunk by chunk
    with paramiko.SSHClient() as partner:
        partner.load_host_keys(str(sshd_server.known_hosts))
        partner.connect(sshd_server.host, sshd_server.port, username=sshd_server.user,
                        key_filename=str(sshd_server.user_key), allow_agent=False,
                        look_for_keys=False)
        with partner.open_sftp() as client, client.open(str(root / ACKS / "ACK_7.xml"), "wb") \
                as handle:
            sizes = []
            for _ in range(3):
                handle.write(b"x" * 1000)
                handle.flush()
                # when we list while the upload goes on
                (seen,) = sftp.list(ACKS)
                sizes.append(seen.size)
    # then each listing shows the file bigger than the last, so it has not settled
    assert sizes == [1000, 2000, 3000]


def test_a_folder_of_ten_thousand_files_is_listed_completely(
    sftp: SftpTransport, root: Path
) -> None:
    # given 10,000 files (hard links to one: creating inodes is the slow part on disk)
    folder = root / ACKS
    original = root / "ack.xml"
    original.write_bytes(b"<ack/>")
    names = {f"ACK_{i:05d}.xml" for i in range(10_000)}
    for name in names:
        os.link(original, folder / name)
    # when the folder is listed over SFTP, then every one of them is there, once
    listed = sftp.list(ACKS)
    assert len(listed) == 10_000
    assert {f.name for f in listed} == names
    assert {f.size for f in listed} == {6}


def test_listing_a_missing_folder_says_which(sftp: SftpTransport) -> None:
    with pytest.raises(RemoteFileMissing, match="nowhere/at/all: no such folder"):
        sftp.list("nowhere/at/all")


def test_read_returns_the_content_and_refuses_oversized_files(
    sftp: SftpTransport, root: Path
) -> None:
    data = os.urandom(300_000)
    (root / ACKS / "ACK_1.xml").write_bytes(data)
    assert sftp.read(f"{ACKS}/ACK_1.xml", max_size=300_000) == data
    with pytest.raises(TransportError, match="over the limit"):
        sftp.read(f"{ACKS}/ACK_1.xml", max_size=299_999)
    with pytest.raises(RemoteFileMissing):
        sftp.read(f"{ACKS}/ACK_gone.xml", max_size=10)


def test_move_to_error_writes_the_reason_and_never_overwrites(
    sftp: SftpTransport, root: Path
) -> None:
    # given a refused file already in the error folder under the same name
    (root / ERRORS / "ACK_1.xml").write_bytes(b"older")
    (root / ACKS / "ACK_1.xml").write_bytes(b"newer")
    # when the new one is moved there with a reason
    moved = sftp.move(f"{ACKS}/ACK_1.xml", ERRORS, reason="line 3: Status: not allowed")
    # then it gets a free name, its reason sits beside it, and the older file is untouched
    assert re.fullmatch(rf"{ERRORS}/ACK_1~2\.xml", moved)
    assert (root / moved).read_bytes() == b"newer"
    assert (root / f"{moved}.reason.txt").read_text() == "line 3: Status: not allowed"
    assert (root / ERRORS / "ACK_1.xml").read_bytes() == b"older"
    assert files_in(root / ACKS) == []


def test_moving_a_file_that_vanished_is_reported_as_missing(
    sftp: SftpTransport, root: Path
) -> None:
    with pytest.raises(RemoteFileMissing):
        sftp.move(f"{ACKS}/ACK_none.xml", ERRORS, reason="x")
    assert files_in(root / ERRORS) == []


# -- folders and check --------------------------------------------------------------

def test_ensure_folders_creates_what_is_missing_and_reports_what_cannot_be(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp
) -> None:
    (root / "blocker").write_text("a file where a folder should be")
    transport = open_sftp(sshd_server, root)
    rows = transport.ensure_folders(["a/b/c", "blocker/inbox", "a/b"])
    assert [(row.name, row.ok) for row in rows] == [
        ("a/b/c", True), ("blocker/inbox", False), ("a/b", True)]
    assert "created" in rows[0].detail and "exists" in rows[2].detail
    assert f"{root}/blocker is a file, not a folder" in rows[1].detail
    assert (root / "a/b/c").is_dir()


def test_check_reports_host_key_login_and_each_folder_and_leaves_nothing_behind(
    sshd_server: SshdServer, root: Path, open_sftp: OpenSftp
) -> None:
    (root / ACKS).mkdir(parents=True)
    (root / ACKS / "ACK_1.xml").write_bytes(b"x")
    transport = open_sftp(sshd_server, root)
    rows = transport.check([ORDERS, ACKS])
    assert [row.name for row in rows] == ["connection", "host key", "login", ORDERS, ACKS]
    assert all(row.ok for row in rows), rows
    named = {row.name: row.detail for row in rows}
    host_key = sshd_server.host_public_key().split()[0]
    assert host_key in named["host key"] and "SHA256:" in named["host key"]
    assert sshd_server.known_hosts_entry in named["host key"]
    assert f"as {sshd_server.user}" in named["login"]
    assert named[ORDERS].startswith("created") and "0 files; write probe ok" in named[ORDERS]
    assert named[ACKS].startswith("exists") and "1 file; write probe ok" in named[ACKS]
    assert files_in(root / ORDERS) == [] and files_in(root / ACKS) == ["ACK_1.xml"]


def test_it_polls_rather_than_watches(sftp: SftpTransport) -> None:
    assert sftp.watches is False
