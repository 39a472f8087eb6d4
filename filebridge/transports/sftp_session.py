"""One SSH connection per partner, reused, with a small pool of SFTP channels on it.

Connecting costs a TCP handshake, a key exchange and an authentication, so the
connection is kept and shared; SFTP channels are cheap and each carries its own
request stream, so bulk work runs on several of them at once (an ``SFTPClient`` is
never used by two threads at the same time). A connection that died (EOF, reset,
no answer within ``operation_timeout``) is thrown away and rebuilt on next use;
when rebuilding fails, further attempts wait for a jittered, growing delay so an
unreachable partner is not hammered, and callers get ``PartnerUnreachable`` at once.

Every library error is translated here or in ``sftp.py``: nothing above this module
sees a paramiko or socket exception.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import paramiko

from filebridge.clock import Clock, SystemClock
from filebridge.errors import PartnerUnreachable, TransportError
from filebridge.transports.base import FolderCheck
from filebridge.transports.sftp_hostkeys import VerifiedHostKey
from filebridge.transports.sftp_login import SshSettings, open_ssh, text

log = logging.getLogger(__name__)

T = TypeVar("T")

RECONNECT_INITIAL = timedelta(seconds=1)
RECONNECT_MAX = timedelta(minutes=2)


def reconnect_delay(failures: int, initial: timedelta, maximum: timedelta,
                    rng: random.Random | None = None) -> timedelta:
    """Delay before the next connection attempt after ``failures`` failed ones in a row.

    Doubles from ``initial`` up to ``maximum``, jittered to 50-100% so many partners
    that went down together do not reconnect in lockstep.
    """
    base = min(initial.total_seconds() * 2 ** max(failures - 1, 0), maximum.total_seconds())
    return timedelta(seconds=base * (rng or random).uniform(0.5, 1.0))


@dataclass
class _Channel:
    client: paramiko.SFTPClient
    generation: int


@dataclass
class _Connection:
    transport: paramiko.Transport
    generation: int
    host_key: VerifiedHostKey
    login: str
    idle: list[_Channel] = field(default_factory=list)
    open_channels: int = 0
    channel_limit: int = 1


def channel_alive(client: paramiko.SFTPClient) -> bool:
    """Whether the channel and the SSH connection under it can still carry requests."""
    channel = client.get_channel()
    if channel is None or channel.closed:
        return False
    transport = channel.get_transport()
    return transport is not None and transport.is_active()


def raw_channel(client: paramiko.SFTPClient) -> paramiko.Channel:
    """The channel under a leased client, for the request pipeline: it may speak on it
    directly while the client has nothing in flight (a lease guarantees that)."""
    channel = client.get_channel()
    if channel is None or channel.closed:
        raise EOFError("the SFTP channel is closed")
    return channel


def link_failed(exc: BaseException) -> bool:
    """Whether an error means the SSH link itself broke, not that the server refused one
    request. Decided from the error, because paramiko's reader thread may not have
    marked the transport inactive yet when a write already hit the closed socket."""
    if isinstance(exc, EOFError | ConnectionError | paramiko.SSHException):
        return True
    return isinstance(exc, OSError) and exc.errno is None and str(exc) == "Socket is closed"


class SshSession:
    """The partner's SSH connection and its SFTP channel pool; safe to use from threads."""

    def __init__(self, settings: SshSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Condition()
        self._connect_lock = threading.Lock()
        self._connection: _Connection | None = None
        self._generation = 0
        self._failures = 0
        self._retry_at: datetime | None = None
        self._last_error: PartnerUnreachable | None = None
        self._closed = False

    # -- public -----------------------------------------------------------------------

    def run(self, what: str, operation: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run ``operation`` on a pooled channel; connection failures become
        ``PartnerUnreachable`` (and retire the connection), SFTP errors ``TransportError``."""
        with self.channel() as client:
            try:
                return operation(client)
            except PartnerUnreachable:
                raise
            except TransportError as exc:
                if not channel_alive(client):
                    self._retire(client, "connection lost")
                    raise PartnerUnreachable(
                        f"{self.settings.where}: connection lost while {what}: {exc}") from exc
                raise
            except TimeoutError as exc:
                self._retire(client, "timeout")
                raise PartnerUnreachable(
                    f"{self.settings.where}: no answer within "
                    f"{self.settings.operation_timeout:g}s while {what}; connection dropped"
                ) from exc
            except (EOFError, OSError, paramiko.SSHException, paramiko.SFTPError) as exc:
                if link_failed(exc) or not channel_alive(client):
                    self._retire(client, "connection lost")
                    raise PartnerUnreachable(
                        f"{self.settings.where}: connection lost while {what}: {text(exc)}"
                    ) from exc
                raise TransportError(f"{what}: {text(exc)}") from exc

    @contextmanager
    def channel(self) -> Iterator[paramiko.SFTPClient]:
        """Lease one SFTP channel for the duration of the block (connecting if needed)."""
        leased = self._acquire()
        clean = False
        try:
            yield leased.client
            clean = True
        finally:
            # after any error the channel may still have answers in flight: never reuse it
            self._release(leased, reuse=clean)

    def connect(self, report: list[FolderCheck] | None = None) -> None:
        """Make sure a live connection exists, appending what happened to ``report``.

        ``check`` passes a report so each stage (connection, host key, login) shows up
        as its own line; an explicit check ignores the reconnect delay.
        """
        self._ensure_connection(report, honour_delay=report is None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
            self._lock.notify_all()
        if connection is not None:
            _close_connection(connection)

    # -- connection -------------------------------------------------------------------

    def _ensure_connection(self, report: list[FolderCheck] | None,
                           honour_delay: bool = True) -> _Connection:
        with self._connect_lock:
            with self._lock:
                if self._closed:
                    raise PartnerUnreachable(f"{self.settings.where}: transport is closed")
                current = self._connection
                if current is not None and current.transport.is_active():
                    return current
                if current is not None:
                    self._connection = None
                    stale = current
                else:
                    stale = None
                now = self._clock.now()
                last = self._last_error
                if honour_delay and last and self._retry_at is not None and now < self._retry_at:
                    wait = (self._retry_at - now).total_seconds()
                    # the same kind as the last failure, so a refused host key stays one
                    raise type(last)(f"{last}; next connection attempt in {wait:.0f}s")
            if stale is not None:
                log.info("partner %s: SSH connection died; rebuilding", self.settings.partner)
                _close_connection(stale)
            try:
                connection = self._open(report)
            except PartnerUnreachable as exc:
                with self._lock:
                    self._failures += 1
                    self._last_error = exc
                    delay = reconnect_delay(self._failures, RECONNECT_INITIAL, RECONNECT_MAX)
                    self._retry_at = self._clock.now() + delay
                raise
            with self._lock:
                self._failures, self._retry_at, self._last_error = 0, None, None
                self._connection = connection
                self._lock.notify_all()
            return connection

    def _open(self, report: list[FolderCheck] | None) -> _Connection:
        link = open_ssh(self.settings, report)
        with self._lock:
            self._generation += 1
            generation = self._generation
        log.info("partner %s: connected to %s (%s)", self.settings.partner,
                 self.settings.where, link.login)
        return _Connection(link.transport, generation, link.host_key, link.login,
                           channel_limit=self.settings.channels)

    # -- channel pool -----------------------------------------------------------------

    def _acquire(self) -> _Channel:
        while True:
            connection = self._ensure_connection(None)
            with self._lock:
                while self._connection is connection:
                    if connection.idle:
                        leased = connection.idle.pop()
                        if channel_alive(leased.client):
                            return leased
                        connection.open_channels -= 1
                        _quiet_close(leased.client)
                        continue
                    if connection.open_channels < connection.channel_limit:
                        connection.open_channels += 1
                        break
                    if self._closed:
                        raise PartnerUnreachable(f"{self.settings.where}: transport is closed")
                    # every lease ends in _release, which notifies; the slice only lets a
                    # close() or a replaced connection be noticed
                    self._lock.wait(timeout=1.0)
                else:
                    continue  # the connection was replaced meanwhile: start over
            opened = self._open_channel(connection)
            if opened is not None:
                return opened

    def _open_channel(self, connection: _Connection) -> _Channel | None:
        """A new SFTP channel, or None when the server allows no more (use the pool)."""
        try:
            client = paramiko.SFTPClient.from_transport(connection.transport)
            if client is None:
                raise paramiko.SSHException("no SFTP channel")
        except (paramiko.SSHException, EOFError, OSError) as exc:
            with self._lock:
                connection.open_channels -= 1
                if connection.transport.is_active() and connection.open_channels > 0:
                    # e.g. MaxSessions reached: make do with the channels we have
                    connection.channel_limit = connection.open_channels
                    log.info("partner %s: server refused another SFTP channel (%s); "
                             "using at most %d", self.settings.partner, text(exc),
                             connection.open_channels)
                    self._lock.notify_all()
                    return None
            if connection.transport.is_active():
                raise PartnerUnreachable(
                    f"{self.settings.where}: SFTP subsystem refused: {text(exc)}") from exc
            self._retire_generation(connection.generation)
            raise PartnerUnreachable(
                f"{self.settings.where}: connection lost opening SFTP: {text(exc)}") from exc
        channel = client.get_channel()
        if channel is not None:
            channel.settimeout(self.settings.operation_timeout)
        return _Channel(client, connection.generation)

    def _release(self, leased: _Channel, reuse: bool) -> None:
        with self._lock:
            connection = self._connection
            current = connection is not None and connection.generation == leased.generation
            if reuse and current and connection is not None and channel_alive(leased.client):
                connection.idle.append(leased)
                self._lock.notify_all()
                return
            if current and connection is not None:
                connection.open_channels -= 1
                self._lock.notify_all()
        _quiet_close(leased.client)

    def _retire(self, client: paramiko.SFTPClient, why: str) -> None:
        """Drop the connection ``client`` belongs to: after a timeout or a lost link
        nothing on it can be trusted."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return
            channel = client.get_channel()
            if channel is not None and channel.get_transport() is not connection.transport:
                return
        log.warning("partner %s: dropping SSH connection (%s)", self.settings.partner, why)
        self._retire_generation(connection.generation)

    def _retire_generation(self, generation: int) -> None:
        with self._lock:
            connection = self._connection
            if connection is None or connection.generation != generation:
                return
            self._connection = None
            self._lock.notify_all()
        _close_connection(connection)


def _close_connection(connection: _Connection) -> None:
    for leased in connection.idle:
        _quiet_close(leased.client)
    connection.idle.clear()
    try:
        connection.transport.close()
    except Exception:  # closing a dead link must never raise into the caller
        log.debug("closing SSH transport failed", exc_info=True)


def _quiet_close(client: paramiko.SFTPClient) -> None:
    try:
        client.close()
    except Exception:
        log.debug("closing SFTP channel failed", exc_info=True)
