"""Helpers shared by tests: servers that may be missing skip locally and fail in CI."""

from __future__ import annotations

import os
import socket

import pytest


def require(available: bool, reason: str) -> None:
    """Skip with ``reason`` when a real server/tool is missing, but fail when ``CI`` is set."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (this test must run in CI)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
