"""Pytest fixtures for a real HTTP server on loopback, standing in for a webhook receiver.

``webhook_server`` runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (port chosen by
the kernel) in a thread, records every request, and answers with statuses the test
chooses: ``respond_with(500, 200)`` answers 500 once and 200 from then on. ``delay``
holds each answer back (to provoke client timeouts); stopping the server cuts any held
answer short, so teardown never waits for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class WebhookServer:
    """A running HTTP server: where it listens, what it received, how it answers."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    delay: float = 0.0
    answer_body: bytes = b'{"ok": true}'
    _statuses: list[int] = field(default_factory=lambda: [200])
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def respond_with(self, *statuses: int, body: bytes | str | None = None) -> None:
        """Answer with these statuses in turn; the last one repeats."""
        assert statuses, "give at least one status"
        with self._lock:
            self._statuses = list(statuses)
            if body is not None:
                self.answer_body = body.encode() if isinstance(body, str) else body

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests arrived (or ``timeout`` passed); return them all."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.requests) >= count, timeout)
            assert len(self.requests) >= count, (
                f"expected {count} request(s), got {len(self.requests)} within {timeout}s"
            )
            return list(self.requests)

    def _record(self, request: RecordedRequest) -> int:
        with self._lock:
            self.requests.append(request)
            status = self._statuses[0] if len(self._statuses) == 1 else self._statuses.pop(0)
            self._lock.notify_all()
            return status


def _handler_for(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status = server._record(
                RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
            )
            if server.delay and server._stopping.wait(server.delay):
                return
            answer = server.answer_body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = _serve
        do_GET = _serve
        do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """An HTTP server on 127.0.0.1 that records requests and answers 200 until told not to."""
    server = WebhookServer()
    httpd = ThreadingHTTPServer((server.host, 0), _handler_for(server))
    httpd.daemon_threads = True
    server.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
