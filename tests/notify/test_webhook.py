"""Alert webhooks POSTed to a real HTTP server on loopback."""

from __future__ import annotations

import pytest

from filebridge.config import WebhookConfig
from filebridge.errors import NotifyError
from filebridge.model import AlertKind
from filebridge.model.records import ALERT_JSON_KEYS
from filebridge.notify import WebhookNotifier
from tests.notify.samples import make_notice
from tests.servers.http import WebhookServer
from tests.support import free_port


def notifier(retries: int = 2, timeout: str = "5s") -> WebhookNotifier:
    config = WebhookConfig.model_validate({"retries": retries, "timeout": timeout})
    return WebhookNotifier(config, backoff=0.01)


def test_posts_the_alert_as_json_with_every_contract_key_and_the_level(
    webhook_server: WebhookServer,
) -> None:
    notice = make_notice(AlertKind.SEND_FAILED, level=2)

    notifier().send(f"{webhook_server.url}/hooks/filebridge?team=ops", notice)

    [request] = webhook_server.wait_for(1)
    assert request.method == "POST"
    assert request.path == "/hooks/filebridge?team=ops"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["user-agent"].startswith("filebridge")
    body = request.json
    assert set(ALERT_JSON_KEYS) <= set(body)
    assert {key: body[key] for key in ALERT_JSON_KEYS} == {
        **notice.alert.contract_json(), "level": 2,
    }
    assert body["subject"] == "[filebridge] send_failed retura ORD-1001"
    assert body["what"] == notice.what
    assert body["where"] == notice.where
    assert body["last_error"] == "sftp.example.com:2222: connection reset by peer"
    assert body["see_command"] == "filebridge show ORD-1001"
    assert body["ack_command"] == "filebridge alerts ack 12"


def test_a_server_error_then_success_is_delivered_by_a_retry(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.respond_with(500, 200)

    notifier(retries=2).send(webhook_server.url, make_notice())

    requests = webhook_server.wait_for(2)
    assert len(requests) == 2
    assert requests[0].body == requests[1].body


def test_a_server_that_keeps_failing_gives_up_naming_the_status_and_its_answer(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.respond_with(503, body="maintenance until 11:00")

    with pytest.raises(NotifyError) as failure:
        notifier(retries=2).send(webhook_server.url, make_notice())

    assert "HTTP 503" in str(failure.value)
    assert "maintenance until 11:00" in str(failure.value)
    assert "after 3 attempts" in str(failure.value)
    assert len(webhook_server.requests) == 3


def test_only_the_first_200_bytes_of_an_error_answer_are_kept(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.respond_with(500, body="x" * 1000)

    with pytest.raises(NotifyError) as failure:
        notifier(retries=0).send(webhook_server.url, make_notice())

    assert "x" * 200 in str(failure.value)
    assert "x" * 201 not in str(failure.value)


def test_a_client_error_is_not_retried(webhook_server: WebhookServer) -> None:
    webhook_server.respond_with(404, body="no such hook")

    with pytest.raises(NotifyError, match="HTTP 404"):
        notifier(retries=2).send(webhook_server.url, make_notice())

    assert len(webhook_server.requests) == 1


def test_a_redirect_is_a_failure_not_a_silent_get(webhook_server: WebhookServer) -> None:
    webhook_server.respond_with(302)

    with pytest.raises(NotifyError, match="HTTP 302"):
        notifier().send(webhook_server.url, make_notice())

    assert [request.method for request in webhook_server.requests] == ["POST"]


def test_no_answer_within_the_timeout_fails_without_retrying(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.delay = 5.0  # the fixture cuts this short at teardown

    with pytest.raises(NotifyError, match="timed out"):
        notifier(retries=2, timeout="200ms").send(webhook_server.url, make_notice())

    assert len(webhook_server.requests) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there

    with pytest.raises(NotifyError) as failure:
        notifier(retries=1).send(url, make_notice())

    message = str(failure.value)
    assert "connection refused" in message
    assert "after 2 attempts" in message


def test_errors_name_the_host_but_not_the_secret_in_the_path(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.respond_with(500)

    with pytest.raises(NotifyError) as failure:
        notifier(retries=0).send(f"{webhook_server.url}/hooks/T0KEN-SECRET", make_notice())

    assert webhook_server.url in str(failure.value)
    assert "T0KEN-SECRET" not in str(failure.value)


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://127.0.0.1/hook", "hooks.example/x", "http:///path"]
)
def test_only_http_and_https_urls_are_accepted(target: str) -> None:
    with pytest.raises(NotifyError, match="http:// or https://"):
        notifier().send(target, make_notice())
