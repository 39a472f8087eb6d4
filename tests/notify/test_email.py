"""Alert emails delivered to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import ssl
import traceback

import pytest

from filebridge.config import EmailConfig
from filebridge.errors import NotifyError
from filebridge.model import AlertKind
from filebridge.notify import EmailNotifier
from tests.notify.samples import make_notice
from tests.servers.smtp import SmtpServer
from tests.support import free_port

PASSWORD = "s3cret-Pa55word"


def config_for(server: SmtpServer, **overrides: object) -> EmailConfig:
    data: dict[str, object] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "sender": "filebridge@example.com",
        "timeout": "5s",
    }
    data.update(overrides)
    return EmailConfig.model_validate(data)


def full_text(error: BaseException) -> str:
    """The error as an operator or a log could ever see it, causes included."""
    return "".join(traceback.format_exception(error))


def test_alert_email_arrives_with_the_contract_subject_and_every_fact(
    smtp_server: SmtpServer,
) -> None:
    notice = make_notice(AlertKind.ACK_OVERDUE, level=2)

    EmailNotifier(config_for(smtp_server)).send("ops@example.com", notice)

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "[filebridge] ack_overdue retura ORD-1001"
    assert message["From"] == "filebridge@example.com"
    assert message["To"] == "ops@example.com"
    assert smtp_server.envelopes == [("filebridge@example.com", ["ops@example.com"])]
    assert message.get_content_type() == "text/plain"
    lines = message.get_content().splitlines()
    assert lines[0] == notice.what
    where = "partner retura: sftp increo@sftp.example.com:2222, /upload/in/orders"
    assert f"Where:       {where}" in lines
    assert "Since:       2026-11-28T10:15:00+00:00" in lines
    error_at = lines.index("Last error (as received, quoted):")
    assert lines[error_at + 1] == "> sftp.example.com:2222: connection reset by peer"
    assert "See more:    filebridge show ORD-1001" in lines
    assert "Acknowledge: filebridge alerts ack 12" in lines


def test_subject_of_a_partner_alert_has_no_order_id(smtp_server: SmtpServer) -> None:
    notice = make_notice(AlertKind.PARTNER_UNREACHABLE, order_id=None)

    EmailNotifier(config_for(smtp_server)).send("ops@example.com", notice)

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "[filebridge] partner_unreachable retura"
    assert "filebridge log --partner retura --last 20" in message.get_content()


def test_unreachable_smtp_server_fails_naming_host_and_port() -> None:
    port = free_port()  # nothing listens there
    config = EmailConfig.model_validate(
        {"smtp_host": "127.0.0.1", "smtp_port": port, "timeout": "2s"}
    )

    with pytest.raises(NotifyError) as failure:
        EmailNotifier(config).send("ops@example.com", make_notice())

    assert f"127.0.0.1:{port}" in str(failure.value)
    assert "connection refused" in str(failure.value)


def test_login_uses_the_password_from_the_named_environment_variable(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_server.users["filebridge"] = PASSWORD
    monkeypatch.setenv("FB_TEST_SMTP_PASSWORD", PASSWORD)
    config = config_for(smtp_server, username="filebridge", password_env="FB_TEST_SMTP_PASSWORD")

    EmailNotifier(config).send("ops@example.com", make_notice())

    assert smtp_server.logins == [("filebridge", PASSWORD, True)]
    assert len(smtp_server.wait_for(1)) == 1


def test_a_refused_login_fails_without_the_password_in_any_error_text(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_server.users["filebridge"] = "the-right-one"
    monkeypatch.setenv("FB_TEST_SMTP_PASSWORD", PASSWORD)
    config = config_for(smtp_server, username="filebridge", password_env="FB_TEST_SMTP_PASSWORD")

    with pytest.raises(NotifyError) as failure:
        EmailNotifier(config).send("ops@example.com", make_notice())

    assert set(smtp_server.logins) == {("filebridge", PASSWORD, False)}  # smtplib tries twice
    assert "login refused" in str(failure.value)
    assert f"{smtp_server.host}:{smtp_server.port}" in str(failure.value)
    assert PASSWORD not in full_text(failure.value)
    assert smtp_server.messages == []


def test_a_missing_password_variable_is_named_in_the_error(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FB_TEST_SMTP_PASSWORD", raising=False)
    config = config_for(smtp_server, username="filebridge", password_env="FB_TEST_SMTP_PASSWORD")

    with pytest.raises(NotifyError, match="FB_TEST_SMTP_PASSWORD"):
        EmailNotifier(config).send("ops@example.com", make_notice())

    assert smtp_server.logins == []


def test_starttls_delivers_over_an_encrypted_connection(
    smtp_tls_server: SmtpServer, tls_client_context: ssl.SSLContext
) -> None:
    config = config_for(smtp_tls_server, security="starttls")

    EmailNotifier(config, ssl_context=tls_client_context).send("ops@example.com", make_notice())

    [message] = smtp_tls_server.wait_for(1)
    assert message["Subject"] == "[filebridge] ack_overdue retura ORD-1001"


def test_plain_smtp_to_a_server_that_requires_starttls_fails(smtp_tls_server: SmtpServer) -> None:
    with pytest.raises(NotifyError, match="refused"):
        EmailNotifier(config_for(smtp_tls_server)).send("ops@example.com", make_notice())

    assert smtp_tls_server.messages == []


def test_starttls_refuses_a_certificate_nobody_vouches_for(smtp_tls_server: SmtpServer) -> None:
    config = config_for(smtp_tls_server, security="starttls")

    with pytest.raises(NotifyError, match="TLS failed"):
        EmailNotifier(config).send("ops@example.com", make_notice())  # system trust store

    assert smtp_tls_server.messages == []


def test_implicit_tls_delivers(
    smtps_server: SmtpServer, tls_client_context: ssl.SSLContext
) -> None:
    config = config_for(smtps_server, security="ssl")

    EmailNotifier(config, ssl_context=tls_client_context).send("ops@example.com", make_notice())

    assert len(smtps_server.wait_for(1)) == 1


def test_a_target_that_is_not_an_address_fails_before_connecting() -> None:
    config = EmailConfig(smtp_host="127.0.0.1", smtp_port=free_port())

    with pytest.raises(NotifyError, match="not an email address"):
        EmailNotifier(config).send("ops", make_notice())


def test_non_ascii_text_arrives_intact(smtp_server: SmtpServer) -> None:
    notice = make_notice(
        AlertKind.QUARANTINED_FILE, partner="sørvest", order_id=None,
        last_error="Ugyldig fil: «Vekt» mangler",
    )

    EmailNotifier(config_for(smtp_server)).send("drift@example.no", notice)

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "[filebridge] quarantined_file sørvest"
    assert "> Ugyldig fil: «Vekt» mangler" in message.get_content().splitlines()
