"""Alerts as JSON POSTs to an HTTP(S) endpoint (``webhook:https://...``), stdlib only.

A webhook is usually a chat or paging service that has a bad second now and then, so a
connection error or a 5xx gets ``retries`` quick retries with a short doubling pause.
Anything else that is not 2xx fails at once: a 4xx will not change by asking again. A
request that timed out waiting for the answer is not retried either: the receiver may
already have taken it, and the escalation engine retries failed notifications on its
next tick anyway. Redirects are not followed (urllib would turn the POST into a GET).

Webhook URLs often carry their secret in the path, so errors name only scheme, host
and port: they are journalled and shown to operators.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.request
from collections.abc import Callable
from importlib import metadata
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from filebridge.config import WebhookConfig
from filebridge.errors import NotifyError
from filebridge.notify.base import AlertNotice, Notifier

__all__ = ["WebhookNotifier"]

ERROR_BODY_BYTES = 200


def _user_agent() -> str:
    try:
        return f"filebridge/{metadata.version('filebridge')}"
    except metadata.PackageNotFoundError:
        return "filebridge"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects, so a 3xx surfaces as the failure it is for a webhook."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _Transient(Exception):
    """A failure worth one more quick try: no connection, or a 5xx."""


class WebhookNotifier(Notifier):
    """POSTs ``AlertNotice.as_json()`` to the target URL.

    ``backoff`` is the first pause between tries (doubling after each); ``sleep`` is
    injectable so a caller with its own clock decides how waiting happens.
    """

    scheme = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        *,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.backoff = backoff
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._user_agent = _user_agent()

    def send(self, address: str, notice: AlertNotice) -> None:
        name = _checked_url(address)
        body = json.dumps(notice.as_json(), ensure_ascii=False).encode("utf-8")
        tries = self.config.retries + 1
        for attempt in range(1, tries + 1):
            try:
                self._post(address, name, body)
                return
            except _Transient as exc:
                if attempt == tries:
                    more = f" (after {tries} attempts)" if tries > 1 else ""
                    raise NotifyError(f"webhook {name}: {exc}{more}") from exc.__cause__
                self._sleep(self.backoff * 2 ** (attempt - 1))

    def _post(self, url: str, name: str, body: bytes) -> None:
        timeout = self.config.timeout.total_seconds()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json, */*;q=0.5",
                "User-Agent": self._user_agent,
            },
        )
        try:
            with self._opener.open(request, timeout=timeout):
                return  # any 2xx: delivered; the answer's body does not matter
        except HTTPError as exc:
            failure = f"HTTP {exc.code} {exc.reason}{_snippet(exc)}"
            if exc.code >= 500:
                raise _Transient(failure) from exc
            raise NotifyError(f"webhook {name}: {failure}") from exc
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                raise NotifyError(f"webhook {name}: TLS failed: {reason}") from exc
            raise _Transient(f"cannot connect: {_reason(reason)}") from exc
        except TimeoutError as exc:
            raise NotifyError(
                f"webhook {name}: no answer within {timeout:g}s (timed out)"
            ) from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            raise _Transient(f"connection lost before an answer: {_reason(exc)}") from exc
        except OSError as exc:
            raise NotifyError(f"webhook {name}: {_reason(exc)}") from exc


def _checked_url(address: str) -> str:
    """Refuse anything but an http(s) URL with a host; return the URL's printable name."""
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise NotifyError(f"webhook target is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise NotifyError(
            f"webhook target must be an http:// or https:// URL with a host (got {shown})"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _snippet(exc: HTTPError) -> str:
    """The first bytes of an error answer: receivers often say there what was wrong."""
    try:
        data = exc.read(ERROR_BODY_BYTES)
    except (OSError, http.client.HTTPException):
        return ""
    finally:
        exc.close()
    text = " ".join(data.decode("utf-8", "replace").split())
    return f": {text}" if text else ""


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__
