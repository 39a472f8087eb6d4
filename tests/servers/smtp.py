"""Pytest fixtures for a real SMTP server (aiosmtpd) on loopback.

``smtp_server`` accepts mail in plain SMTP, with optional AUTH (``users``), and collects
every message it receives. ``smtp_tls_server`` offers STARTTLS and ``smtps_server``
implicit TLS, both with a throwaway certificate for 127.0.0.1 that ``tls_client_context``
trusts. Each fixture is function scoped: a server starts in milliseconds, and a test
never sees another test's mail.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, require

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    HAVE_AIOSMTPD = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_AIOSMTPD = False

HOST = "127.0.0.1"


@dataclass
class SmtpServer:
    """A running SMTP server and what it received."""

    host: str
    port: int
    users: dict[str, str] = field(default_factory=dict)  # username -> password
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (from, to)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # (user, password, ok)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until ``count`` messages arrived (or ``timeout`` passed); return them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            assert len(self.messages) >= count, (
                f"expected {count} message(s), got {len(self.messages)} within {timeout}s"
            )
            return list(self.messages)

    # aiosmtpd handler hooks, called on the server's thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = user in self.users and self.users[user] == password
        self.logins.append((user, password, ok))
        return AuthResult(success=ok, handled=False)


def _run(server: SmtpServer, **kwargs: Any) -> Iterator[SmtpServer]:
    require(HAVE_AIOSMTPD, "aiosmtpd is not installed (pip install aiosmtpd)")
    controller = Controller(
        server,
        hostname=server.host,
        port=server.port,
        authenticator=server.authenticate,
        auth_require_tls=False,
        **kwargs,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1; set ``.users`` to make AUTH accept a login."""
    yield from _run(SmtpServer(HOST, free_port()))


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def tls_client_context(tls_files: TlsFiles) -> ssl.SSLContext:
    """A client context that trusts only the test certificate (hostname checked)."""
    return ssl.create_default_context(cafile=str(tls_files.cert))


def _server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(files.cert), str(files.key))
    return context


@pytest.fixture
def smtp_tls_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS before anything else."""
    yield from _run(
        SmtpServer(HOST, free_port()),
        tls_context=_server_context(tls_files),
        require_starttls=True,
    )


@pytest.fixture
def smtps_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """An SMTP server speaking TLS from the first byte (SMTPS)."""
    yield from _run(SmtpServer(HOST, free_port()), ssl_context=_server_context(tls_files))
