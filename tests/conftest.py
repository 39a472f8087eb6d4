"""Fixtures for real servers on loopback, shared by every test folder."""

pytest_plugins = ["tests.servers.sshd", "tests.servers.smtp", "tests.servers.http"]
