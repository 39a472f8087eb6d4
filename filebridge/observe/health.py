"""Whether the daemon can do its work: what ``/healthz`` answers.

Unhealthy means a person (or an orchestrator) should act, so the bar is the same one
that opens alerts: a partner unreachable for longer than its ``unreachable_after``
(a short outage is normal and waited out), a host key mismatch (nothing moves until
a person decides), or a journal that refuses writes (nothing can be recorded, so
nothing may be done). Each reason is one line saying what and since when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from filebridge.model import AlertKind

if TYPE_CHECKING:
    from filebridge.bridge import Bridge


@dataclass(frozen=True)
class Health:
    """``ok`` and, when not, every reason."""

    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def text(self) -> str:
        return "ok\n" if self.ok else "".join(f"{reason}\n" for reason in self.reasons)


class HealthCheck:
    """Checks a running bridge; safe to call from another thread than the engine's.

    The partner links are taken once, here: build it after ``bridge.engine`` exists
    (on the thread that built it), so that two threads never build the engine."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.links = list(bridge.engine.links)

    def check(self) -> Health:
        now = self.bridge.clock.now()
        reasons: list[str] = []
        for link in self.links:
            since = link.unreachable_since
            if since is None:
                continue
            threshold = link.config.unreachable_after
            if now - since >= threshold:
                reasons.append(
                    f"partner {link.name} unreachable since {since:%Y-%m-%d %H:%M:%SZ} "
                    f"(longer than {threshold}): {link.last_error or 'no error recorded'}")
        try:
            self.bridge.journal.probe_write()
        except Exception as exc:
            reasons.append(f"journal not writable: {exc}")
            return Health(reasons)
        served = {link.name for link in self.links}
        try:
            open_alerts = self.bridge.journal.alerts()
        except Exception as exc:
            reasons.append(f"journal not readable: {exc}")
            return Health(reasons)
        for alert in open_alerts:
            if alert.kind is AlertKind.HOST_KEY_MISMATCH and alert.partner in served:
                reasons.append(
                    f"partner {alert.partner}: host key mismatch since "
                    f"{alert.opened_at:%Y-%m-%d %H:%M:%SZ} (alert {alert.id}); nothing is "
                    f"sent or read until known_hosts is fixed")
        return Health(reasons)
