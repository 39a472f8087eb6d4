"""One small HTTP server, on its own thread, for ``/metrics`` and ``/healthz``.

wsgiref serves one request at a time, which is plenty for a scraper and a health
probe, and needs nothing beyond the standard library and prometheus-client's WSGI app.
It binds 127.0.0.1 unless told otherwise: metrics name partners and counts, which is
nobody else's business.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from filebridge.errors import FileBridgeError
from filebridge.observe.health import HealthCheck
from filebridge.observe.metrics import BridgeMetrics

log = logging.getLogger("filebridge.observe")

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

INDEX = b"filebridge\n/metrics  Prometheus metrics\n/healthz  200 ok, or 503 and why\n"


class _QuietHandler(WSGIRequestHandler):
    """Request lines at DEBUG in our log instead of wsgiref's lines on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics server: " + format, *args)


class _Server6(WSGIServer):
    address_family = socket.AF_INET6


class ObserveApp:
    """The WSGI application: ``/metrics``, ``/healthz`` and a one-line index."""

    def __init__(self, metrics: BridgeMetrics, health: HealthCheck) -> None:
        self.metrics_app = make_wsgi_app(metrics.registry)
        self.health = health

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = self.metrics_app(environ, start_response)
            return body
        if path == "/healthz":
            try:
                health = self.health.check()
                status, text = ("200 OK" if health.ok else "503 Service Unavailable",
                                health.text())
            except Exception as exc:  # a probe that cannot answer is an unhealthy answer
                log.exception("health check failed")
                status, text = "503 Service Unavailable", f"health check failed: {exc}\n"
            return _plain(start_response, status, text.encode("utf-8"))
        if path in ("", "/"):
            return _plain(start_response, "200 OK", INDEX)
        return _plain(start_response, "404 Not Found", b"not found; try /metrics or /healthz\n")


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]


class ObserveServer:
    """Serves an ``ObserveApp`` on ``host:port`` in a daemon thread until ``stop()``.

    Port 0 picks a free port; ``port`` then tells which."""

    def __init__(self, app: ObserveApp, host: str = "127.0.0.1", port: int = 0) -> None:
        server_class = _Server6 if ":" in host else WSGIServer
        try:
            self._server = make_server(host, port, app, server_class=server_class,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            raise FileBridgeError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="filebridge-metrics", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ObserveServer:
        self._thread.start()
        log.info("metrics on %s/metrics, health on %s/healthz", self.url, self.url)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> ObserveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
