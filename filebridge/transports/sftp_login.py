"""Opening one authenticated SSH connection: TCP, key exchange, host key, login.

Each stage has the partner's ``connect_timeout`` and its own failure message, and
``filebridge check`` gets one line per stage. Every failure is ``PartnerUnreachable``
(``HostKeyMismatch`` for a refused host key): the orders wait, nothing is lost.
Secrets (password, key passphrase) are read from the environment at each login,
used, and never put into a message or a log line.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from filebridge.errors import PartnerUnreachable
from filebridge.transports.base import FolderCheck
from filebridge.transports.sftp_hostkeys import KnownHosts, VerifiedHostKey

KEEPALIVE_SECONDS = 30

T = TypeVar("T")


@dataclass(frozen=True)
class SshSettings:
    """Everything needed to open one partner's SSH connection. Secrets stay in the env."""

    partner: str
    host: str
    port: int
    username: str
    known_hosts: Path
    key_file: Path | None = None
    key_passphrase_env: str | None = None
    password_env: str | None = None
    disabled_algorithms: dict[str, list[str]] | None = None
    connect_timeout: float = 10.0
    operation_timeout: float = 30.0
    channels: int = 4

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True)
class SshLink:
    """A connected, verified, authenticated SSH transport."""

    transport: paramiko.Transport
    host_key: VerifiedHostKey
    login: str


def open_ssh(s: SshSettings, report: list[FolderCheck] | None = None) -> SshLink:
    """Connect, check the host key against known_hosts, log in; ``report`` gets a line
    per stage reached (connection, host key, login)."""
    note: Callable[[FolderCheck], None] = report.append if report is not None else _ignore
    try:
        sock = socket.create_connection((s.host, s.port), timeout=s.connect_timeout)
    except OSError as exc:
        note(FolderCheck("connection", False, f"{s.host}:{s.port}: {text(exc)}"))
        raise PartnerUnreachable(f"{s.where}: cannot connect: {text(exc)}") from exc
    transport = paramiko.Transport(sock, disabled_algorithms=s.disabled_algorithms)
    try:
        transport.banner_timeout = s.connect_timeout
        transport.handshake_timeout = s.connect_timeout
        transport.auth_timeout = s.connect_timeout
        transport.channel_timeout = s.connect_timeout
        known = KnownHosts(s.known_hosts, s.host, s.port)
        trusted = _stage(note, "host key", known.trusted_keys)
        known.prefer_trusted_types(transport, trusted)
        try:
            transport.start_client(timeout=s.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            note(FolderCheck("connection", False, f"SSH handshake failed: {text(exc)}"))
            raise PartnerUnreachable(f"{s.where}: SSH handshake failed: {text(exc)}") from exc
        version = (transport.remote_version or "?").removeprefix("SSH-2.0-")
        note(FolderCheck("connection", True, f"{s.host}:{s.port}, {version}"))
        offered = transport.get_remote_server_key()
        verified = _stage(note, "host key", lambda: known.verify(offered, trusted))
        note(FolderCheck("host key", True, str(verified)))
        login = _stage(note, "login", lambda: authenticate(s, transport))
        note(FolderCheck("login", True, login))
        transport.set_keepalive(KEEPALIVE_SECONDS)
    except BaseException:
        transport.close()
        raise
    return SshLink(transport, verified, login)


def authenticate(s: SshSettings, transport: paramiko.Transport) -> str:
    """Log in with the key file, else (or additionally, if the server asks) the password."""
    password = secret(s.password_env, "password_env") if s.password_env else None
    try:
        if s.key_file is not None:
            key = load_key(s)
            remaining = transport.auth_publickey(s.username, key)
            how = f"key {s.key_file} ({key.get_name()} {key.fingerprint})"
            if remaining and password is not None and "password" in remaining:
                transport.auth_password(s.username, password)
                how += " and password"
            elif remaining:
                raise PartnerUnreachable(
                    f"{s.where}: server wants more after the key: {', '.join(remaining)}")
        elif password is not None:
            transport.auth_password(s.username, password)
            how = f"password from ${s.password_env}"
        else:
            raise PartnerUnreachable(f"{s.where}: no key_file or password_env to log in with")
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types)
        raise PartnerUnreachable(f"{s.where}: login refused: server allows only {allowed}") \
            from exc
    except paramiko.AuthenticationException as exc:
        raise PartnerUnreachable(f"{s.where}: login refused: {text(exc)}") from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise PartnerUnreachable(f"{s.where}: connection lost during login: {text(exc)}") \
            from exc
    if not transport.is_authenticated():
        raise PartnerUnreachable(f"{s.where}: login did not complete")
    return f"as {s.username} with {how}"


def load_key(s: SshSettings) -> paramiko.PKey:
    """The private key (ed25519, ECDSA or RSA; OpenSSH or PEM format), decrypted with the
    passphrase from ``key_passphrase_env`` when set."""
    assert s.key_file is not None
    passphrase = (secret(s.key_passphrase_env, "key_passphrase_env").encode("utf-8")
                  if s.key_passphrase_env else None)
    try:
        # paramiko hands the passphrase to cryptography, which wants bytes
        return paramiko.PKey.from_path(s.key_file, password=passphrase)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise PartnerUnreachable(f"key file {s.key_file} does not exist") from None
    except (paramiko.SSHException, ValueError, TypeError, OSError) as exc:
        if passphrase is None and (isinstance(exc, paramiko.PasswordRequiredException)
                                   or "password" in str(exc).lower()):
            raise PartnerUnreachable(
                f"key file {s.key_file} is encrypted: set key_passphrase_env") from None
        # a failed decryption's message never holds the passphrase itself
        raise PartnerUnreachable(f"cannot load key file {s.key_file}: {text(exc)}") from None


def secret(env_name: str | None, key: str) -> str:
    """A secret from the environment; the message names the variable, never a value."""
    value = os.environ.get(env_name or "")
    if not value:
        raise PartnerUnreachable(f"{key}: environment variable ${env_name} is not set")
    return value


def text(exc: BaseException) -> str:
    """A library error as one readable phrase (some carry no message at all)."""
    return str(exc).strip() or type(exc).__name__


def _stage(note: Callable[[FolderCheck], None], name: str, step: Callable[[], T]) -> T:
    try:
        return step()
    except PartnerUnreachable as exc:
        note(FolderCheck(name, False, str(exc)))
        raise


def _ignore(_row: FolderCheck) -> None:
    """No report wanted."""
