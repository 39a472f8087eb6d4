"""Callbacks for the app backend: ``bridge.on("acknowledged", callback)``.

A callback that raises is logged and skipped: a bug in the backend's handler must
never stop the daemon from ingesting the next file.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("filebridge.events")

EVENTS = frozenset(
    {
        "sent",
        "picked_up",
        "acknowledged",
        "rejected",
        "completed",
        "not_completed",
        "send_failed",
        "alert",
        "exchange",  # every exchange record, as it is journalled (metrics, live views)
    }
)

Callback = Callable[..., Any]


class EventHub:
    """Registry of callbacks per event name."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._held: list[tuple[str, tuple[Any, ...]]] | None = None

    def on(self, event: str, callback: Callback) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; known: {', '.join(sorted(EVENTS))}")
        self._callbacks[event].append(callback)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold every emit until the block ends, then deliver them in order: the engine
        wraps each partner's work in this, so callbacks run after the journal commits
        they report (a callback that reads the journal sees the change)."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for event, args in held:
                self._deliver(event, args)

    def emit(self, event: str, *args: Any) -> None:
        if self._held is not None:
            self._held.append((event, args))
            return
        self._deliver(event, args)

    def _deliver(self, event: str, args: tuple[Any, ...]) -> None:
        for callback in list(self._callbacks.get(event, ())):
            try:
                callback(*args)
            except Exception:
                log.exception("callback %r for event %r failed; continuing", callback, event)


class OrderEvent:
    """What an order callback receives: which order, its new state, and the document
    that caused the change (the Acknowledgement or OrderResult), if any."""

    __slots__ = ("document", "event", "order_id", "partner", "state")

    def __init__(
        self, event: str, order_id: str, partner: str, state: str, document: Any = None
    ) -> None:
        self.event = event
        self.order_id = order_id
        self.partner = partner
        self.state = state
        self.document = document

    def __repr__(self) -> str:
        return f"OrderEvent({self.event!r}, order_id={self.order_id!r}, state={self.state!r})"
