"""A partner as the engine sees it at run time: config, transport, codec and health.

Reachability lives here, not in the journal: it is rebuilt by the first operation
after a restart. What must survive a restart (attempts, schedules, alerts) is in
the journal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from filebridge.config import PartnerConfig
from filebridge.formats.base import Codec, codec_for
from filebridge.transports.base import Transport

RECONNECT_INITIAL = timedelta(seconds=2)


@dataclass
class SettleState:
    """What a file looked like when first seen with its current size and mtime."""

    size: int
    mtime: float
    stable_since: datetime


@dataclass
class PartnerLink:
    """One partner's transport, codec, reachability and inbound bookkeeping."""

    config: PartnerConfig
    transport: Transport
    codec: Codec = field(init=False)
    unreachable_since: datetime | None = None
    last_error: str | None = None
    reconnect_failures: int = 0
    retry_connect_at: datetime | None = None
    next_poll_at: datetime | None = None
    prepared: bool = False
    settling: dict[str, SettleState] = field(default_factory=dict)
    reported_ignored: set[str] = field(default_factory=set)
    # files journalled but not moved (the folder refused): path -> (size, mtime) as listed;
    # the same file listed again is only moved, whatever the clocks say
    unmoved: dict[str, tuple[int, float]] = field(default_factory=dict)
    _woken: set[str] = field(default_factory=set)
    _renamed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    on_wake: threading.Event | None = None  # set when a file arrives, so serve() ticks now

    def __post_init__(self) -> None:
        self.codec = codec_for(self.config.format, self.config.csv_delimiter)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    def wake(self, path: str, renamed: bool) -> None:
        """Called from a transport's watcher thread: remember the path, nothing else."""
        with self._lock:
            self._woken.add(path)
            if renamed:
                self._renamed.add(path)
        if self.on_wake is not None:
            self.on_wake.set()

    @property
    def woken(self) -> bool:
        """Whether something arrived since the last inbound pass (poll now, not later)."""
        with self._lock:
            return bool(self._woken)

    def take_renamed(self) -> set[str]:
        """Paths renamed into place since the last pass; they need not settle."""
        with self._lock:
            renamed, self._renamed = self._renamed, set()
            self._woken = set()
            return renamed

    def prepare(self) -> None:
        """On first contact: create the folders we may create, and start watching.

        Done lazily, in the tick, so a partner that is down at start-up delays only its
        own work instead of keeping the daemon from starting."""
        if self.prepared:
            return
        policy = self.config
        self.transport.ensure_folders([policy.orders_dir, *policy.inbound_dirs,
                                       policy.archive_dir, policy.error_dir])
        self.transport.watch(policy.inbound_dirs, self.wake)
        self.prepared = True

    def may_connect(self, now: datetime) -> bool:
        """False while waiting out the reconnect backoff after the partner was unreachable."""
        return self.retry_connect_at is None or now >= self.retry_connect_at

    def mark_unreachable(self, now: datetime, error: str, backoff_max: timedelta) -> None:
        if self.unreachable_since is None:
            self.unreachable_since = now
        self.last_error = error
        self.reconnect_failures += 1
        delay = min(
            RECONNECT_INITIAL * (2 ** min(self.reconnect_failures - 1, 16)), backoff_max
        )
        self.retry_connect_at = now + delay

    def mark_reachable(self) -> bool:
        """Record success; True when the partner was unreachable until now."""
        was_down = self.unreachable_since is not None
        self.unreachable_since = None
        self.reconnect_failures = 0
        self.retry_connect_at = None
        return was_down
