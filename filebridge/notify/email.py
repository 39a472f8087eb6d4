"""Alerts by email, through an SMTP server (``[notify.email]``).

One connection per message: alerts are rare, and a fresh connection never fails on a
session the server closed while idle. The password is read from the environment at
send time (so a rotated secret is picked up without a restart) and is kept out of every
error message and log line: errors are journalled and shown to operators.
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from filebridge.config import EmailConfig
from filebridge.errors import NotifyError
from filebridge.notify.base import AlertNotice, Notifier

__all__ = ["EmailNotifier"]


class EmailNotifier(Notifier):
    """Sends a plain-text email per notice; the target address is ``email:<address>``.

    ``ssl_context`` replaces the default one (system trust store, hostname checked),
    for a relay whose certificate comes from a private CA.
    """

    scheme = "email"

    def __init__(self, config: EmailConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._ssl_context = ssl_context

    @property
    def server(self) -> str:
        """``host:port`` of the SMTP server, as error messages name it."""
        return f"{self.config.smtp_host}:{self.config.smtp_port}"

    def message_for(self, address: str, notice: AlertNotice) -> EmailMessage:
        """The email as it will be sent: subject, headers and the plain-text body."""
        message = EmailMessage()
        message["Subject"] = notice.subject
        message["From"] = self.config.sender
        message["To"] = address
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.config.sender.rpartition("@")[2] or None
        message["Message-ID"] = make_msgid("filebridge", domain=domain)
        message["X-Filebridge-Alert"] = f"{notice.alert.id} {notice.alert.kind.value}"
        message["X-Filebridge-Level"] = str(notice.level)
        message.set_content(notice.as_text())
        return message

    def send(self, address: str, notice: AlertNotice) -> None:
        if not address or "@" not in address:
            raise NotifyError(f"email target {address!r} is not an email address")
        try:
            message = self.message_for(address, notice)
        except (ValueError, TypeError) as exc:
            raise NotifyError(f"email to {address}: cannot build the message: {exc}") from exc
        password = self._password()
        try:
            with self._connect() as smtp:
                if self.config.username:
                    smtp.login(self.config.username, password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            reason = _describe(exc)
            secrets = _secret_forms(self.config.username, password)
            leaked = any(secret in str(exc) for secret in secrets)
            for secret in secrets:
                reason = reason.replace(secret, "***")
            error = NotifyError(f"email to {address} via SMTP {self.server} failed: {reason}")
            # keep the cause for tracebacks, unless its text carries the secret
            raise error from (None if leaked else exc)

    def _password(self) -> str | None:
        env = self.config.password_env
        if not env:
            if self.config.username:
                raise NotifyError(
                    f"email via SMTP {self.server}: username is set but password_env is not"
                )
            return None
        password = os.environ.get(env)
        if not password:
            raise NotifyError(
                f"email via SMTP {self.server}: environment variable {env} "
                f"(notify.email.password_env) is not set"
            )
        return password

    def _connect(self) -> smtplib.SMTP:
        host, port = self.config.smtp_host, self.config.smtp_port
        timeout = self.config.timeout.total_seconds()
        if self.config.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context())
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if self.config.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=self._context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


def _describe(exc: BaseException) -> str:
    """A short reason a person understands, from whatever smtplib or the socket raised."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        kind = "login refused" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
        return f"{kind}: {exc.smtp_code} {text}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(
            f"{rcpt} ({code} {msg.decode('utf-8', 'replace')})"
            for rcpt, (code, msg) in exc.recipients.items()
        )
        return f"recipient refused: {refused}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"not supported by the server: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    return str(exc) or type(exc).__name__


def _secret_forms(username: str | None, password: str | None) -> list[str]:
    """The password as it could appear in a server's reply: plain or in an AUTH blob."""
    if not password:
        return []
    user = username or ""
    blobs = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    ]
    return [blob for blob in blobs if blob]
