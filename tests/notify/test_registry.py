"""One entry point for every target in the escalation config: ``scheme:address``."""

from __future__ import annotations

import logging

import pytest

from filebridge.config import EmailConfig, NotifyConfig, WebhookConfig
from filebridge.errors import NotifyError
from filebridge.notify import NotifierSet
from tests.notify.samples import make_notice
from tests.servers.http import WebhookServer
from tests.servers.smtp import SmtpServer
from tests.support import free_port


def notifier_set(smtp_port: int) -> NotifierSet:
    return NotifierSet(
        NotifyConfig(
            email=EmailConfig.model_validate(
                {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "timeout": "5s"}
            ),
            webhook=WebhookConfig.model_validate({"retries": 0, "timeout": "5s"}),
        )
    )


def test_each_scheme_reaches_its_own_kind_of_receiver(
    smtp_server: SmtpServer, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    notifiers = notifier_set(smtp_server.port)
    notice = make_notice()

    with caplog.at_level(logging.WARNING, logger="filebridge.alerts"):
        notifiers.send("email:oncall@example.com", notice)
        notifiers.send(f"webhook:{webhook_server.url}/x", notice)
        notifiers.send("log:alerts", notice)

    assert smtp_server.wait_for(1)[0]["To"] == "oncall@example.com"
    assert webhook_server.wait_for(1)[0].path == "/x"
    assert [record.name for record in caplog.records] == ["filebridge.alerts"]


@pytest.mark.parametrize("target", ["sms:+4799999999", "ops@example.com", ":x"])
def test_a_target_without_a_known_scheme_is_refused(target: str) -> None:
    with pytest.raises(NotifyError, match="scheme"):
        notifier_set(free_port()).send(target, make_notice())


def test_a_delivery_failure_surfaces_as_notify_error() -> None:
    port = free_port()  # nothing listens there

    with pytest.raises(NotifyError, match=f"127.0.0.1:{port}"):
        notifier_set(port).send("email:ops@example.com", make_notice())


def test_close_can_be_called_twice() -> None:
    notifiers = NotifierSet()

    notifiers.close()
    notifiers.close()

    assert notifiers.schemes == {"email", "webhook", "log"}
