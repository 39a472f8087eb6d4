"""Pytest fixtures for a real OpenSSH sshd on loopback, with its own host key and user key.

``sshd_server`` (session scope) is shared by every SFTP test that leaves the server as it
found it; ``sshd_factory`` (function scope) starts private servers for tests that stop,
pause or re-key theirs. Each server logs in the current user (root in CI, through
``PermitRootLogin prohibit-password``) with keys listed in a temporary authorized_keys
file, serves SFTP in-process (``internal-sftp``) and stops by its own pid, together with
the per-connection processes it forked.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from filebridge.clock import Clock
from filebridge.config import config_from_dict
from filebridge.transports.sftp import SftpTransport
from tests.support import free_port, require

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
START_WAIT_SECONDS = 10.0


def sshd_available() -> bool:
    return os.path.isfile(SSHD) and os.access(SSHD, os.X_OK)


def require_sshd() -> None:
    require(sshd_available(), "OpenSSH sshd is not installed (apt-get install openssh-server)")


def write_private_key(path: Path, kind: str = "ed25519", passphrase: str | None = None) -> str:
    """Write a new private key in OpenSSH format (mode 0600); return its public key line."""
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(kind)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase else serialization.NoEncryption()
    )
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    )
    path.write_bytes(data)
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    tree = _children_by_parent()
    found: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, []))
    return found


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class SshdServer:
    """One sshd on 127.0.0.1 with everything it needs under ``base``."""

    base: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)
    max_sessions: int = 20
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.root = self.base / "partner"
        self.root.mkdir(exist_ok=True)
        self.host_key = self.base / "ssh_host_ed25519_key"
        self.extra_host_keys: list[Path] = []
        self.user_key = self.base / "id_ed25519"
        self.authorized_keys = self.base / "authorized_keys"
        self.known_hosts = self.base / "known_hosts"
        self.log = self.base / "sshd.log"
        write_private_key(self.host_key)
        self.authorized_keys.write_text(write_private_key(self.user_key) + "\n")
        self.write_known_hosts()

    # -- keys -------------------------------------------------------------------------

    @property
    def known_hosts_entry(self) -> str:
        return f"[{self.host}]:{self.port}"

    def host_public_key(self, path: Path | None = None) -> str:
        """``ssh-ed25519 AAAA...`` of the current (or the given) host key."""
        key = serialization.load_ssh_private_key((path or self.host_key).read_bytes(), None)
        return key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()

    def add_host_key(self, kind: str) -> str:
        """Serve one more host key (after the next start); returns its public key line."""
        path = self.base / f"ssh_host_{kind}_key"
        public = write_private_key(path, kind)
        self.extra_host_keys.append(path)
        return public

    def write_known_hosts(self, path: Path | None = None) -> Path:
        """A known_hosts file trusting this server's current host key."""
        target = path or self.known_hosts
        target.write_text(f"{self.known_hosts_entry} {self.host_public_key()}\n")
        return target

    def add_user_key(self, name: str, kind: str, passphrase: str | None = None) -> Path:
        """A further key the server accepts for the user (rsa, ecdsa, ed25519)."""
        path = self.base / name
        public = write_private_key(path, kind, passphrase)
        with self.authorized_keys.open("a") as handle:
            handle.write(public + "\n")
        return path

    def rotate_host_key(self) -> None:
        """Give the server a new host key (known_hosts keeps the old one) and restart."""
        write_private_key(self.host_key)
        if self.process is not None:
            self.stop()
            self.start()

    # -- process ----------------------------------------------------------------------

    def _config(self) -> Path:
        config = self.base / "sshd_config"
        config.write_text(
            "\n".join([
                f"Port {self.port}",
                f"ListenAddress {self.host}",
                f"HostKey {self.host_key}",
                *(f"HostKey {path}" for path in self.extra_host_keys),
                f"PidFile {self.base / 'sshd.pid'}",
                f"AuthorizedKeysFile {self.authorized_keys}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "PermitEmptyPasswords no",
                "StrictModes no",
                "UsePAM no",
                f"MaxSessions {self.max_sessions}",
                "MaxStartups 50:30:100",
                "Subsystem sftp internal-sftp",
                "LogLevel VERBOSE",
                "",
            ])
        )
        return config

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self._config())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        log.close()
        deadline = time.monotonic() + START_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited at start:\n{self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"sshd did not answer on port {self.port}:\n{self.log.read_text()}")

    def session_pids(self) -> list[int]:
        """The per-connection processes the listener forked (live SFTP sessions)."""
        return _descendants(self.process.pid) if self.process is not None else []

    def pause_sessions(self) -> None:
        """Freeze every live session, as a server that hangs mid-transfer would."""
        _signal(self.session_pids(), signal.SIGSTOP)

    def resume_sessions(self) -> None:
        _signal(self.session_pids(), signal.SIGCONT)

    def stop(self) -> None:
        """Kill the listener and every session it forked, like a server going down."""
        if self.process is None:
            return
        sessions = self.session_pids()
        _signal(sessions, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def partner(self, **overrides: Any) -> dict[str, Any]:
        """A ``[partners.*]`` table for this server, key login, root at ``self.root``."""
        table: dict[str, Any] = {
            "transport": "sftp",
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "key_file": str(self.user_key),
            "known_hosts": str(self.known_hosts),
            "root": str(self.root),
            "connect_timeout": "5s",
            "operation_timeout": "10s",
        }
        table.update(overrides)
        return table


@dataclass(frozen=True)
class PasswordUser:
    name: str
    password: str
    home: Path


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """One sshd for the whole run; tests must leave it running with its original key."""
    require_sshd()
    server = SshdServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sshd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], SshdServer]]:
    """Private, started servers for tests that stop, pause or re-key them."""
    require_sshd()
    servers: list[SshdServer] = []

    def make() -> SshdServer:
        server = SshdServer(tmp_path_factory.mktemp("sshd-own"))
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.resume_sessions()
        server.stop()


@pytest.fixture(scope="session")
def sftp_password_user() -> Iterator[PasswordUser]:
    """A system user with a random password, for password logins (needs root + useradd)."""
    require_sshd()
    useradd = shutil.which("useradd")
    require(os.geteuid() == 0 and useradd is not None,
            "password login needs root and useradd to create a test user")
    name = "fbsftptest"
    # not under pytest's root-only temp folder: the account must be able to reach its home
    home = Path(tempfile.mkdtemp(prefix="filebridge-sftp-home-"))
    password = secrets.token_urlsafe(16)
    existed = subprocess.run(["id", name], capture_output=True).returncode == 0
    if existed:
        subprocess.run(["usermod", "-d", str(home), name], check=True, capture_output=True)
    else:
        subprocess.run([useradd or "useradd", "-M", "-d", str(home), "-s", "/bin/sh", name],
                       check=True, capture_output=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n".encode(), check=True,
                   capture_output=True)
    shutil.chown(home, user=name)
    yield PasswordUser(name, password, home)
    subprocess.run(["userdel", name], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def wait_for(condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Poll ``condition`` until it holds; the limit only guards against a hung test."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.002)


def sftp_transport(server: SshdServer, folder: Path, clock: Clock | None = None,
                   **overrides: Any) -> SftpTransport:
    """An ``SftpTransport`` built from config, as the bridge builds it, rooted at ``folder``
    (unless ``root=`` overrides it, e.g. ``"."`` for the login folder)."""
    table = server.partner(**{"root": str(folder), **overrides})
    config = config_from_dict({"partners": {"partner": table}})
    return SftpTransport.from_config(config.partner("partner"), config, clock=clock)


@pytest.fixture
def open_sftp() -> Iterator[Callable[..., SftpTransport]]:
    """``open_sftp(server, folder, **overrides)``; every transport is closed afterwards."""
    opened: list[SftpTransport] = []

    def make(server: SshdServer, folder: Path, clock: Clock | None = None,
             **overrides: Any) -> SftpTransport:
        folder.mkdir(parents=True, exist_ok=True)
        transport = sftp_transport(server, folder, clock, **overrides)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()
