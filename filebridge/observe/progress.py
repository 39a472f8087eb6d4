"""What one ``run --once`` pass did, file by file, and a spinner that shows it.

A single pass over a full drop folder can take a while (thousands of files, a slow
SFTP server); the spinner says it is moving and how far it got. The tally it keeps is
also what decides the pass's exit code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from filebridge.model import Direction, ExchangeRecord, ExchangeStatus

if TYPE_CHECKING:
    from filebridge.bridge import Bridge


PassTallyListener = Callable[["PassTally"], None]


class PassTally:
    """Counts the exchange records journalled while it is active."""

    def __init__(self, bridge: Bridge) -> None:
        self.outbound: Counter[str] = Counter()
        self.inbound: Counter[str] = Counter()
        self.active = False
        self.on_change: list[PassTallyListener] = []
        bridge.on("exchange", self._on_exchange)

    def _on_exchange(self, record: ExchangeRecord) -> None:
        if not self.active:
            return
        side = self.outbound if record.direction is Direction.OUT else self.inbound
        side[record.status.value] += 1
        for listener in self.on_change:
            listener(self)

    @property
    def failed_sends(self) -> int:
        return self.outbound[ExchangeStatus.FAILED.value]

    def describe(self) -> str:
        sent = self.outbound[ExchangeStatus.OK.value]
        received = sum(self.inbound.values())
        refused = received - self.inbound[ExchangeStatus.OK.value]
        text = f"sent {sent}, received {received}"
        if self.failed_sends:
            text += f", failed sends {self.failed_sends}"
        if refused:
            text += f", not applied {refused}"
        return text


class PassProgress:
    """A transient spinner on ``console`` (stderr) with the tally's counts; nothing at
    all when the console is not a terminal or ``enabled`` is False."""

    def __init__(self, tally: PassTally, console: Console, *, enabled: bool = True) -> None:
        self.tally = tally
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TimeElapsedColumn(), console=console, transient=True,
                                  disable=not (enabled and console.is_terminal))
        self._task = self._progress.add_task("one pass: connecting", total=None)

    def _update(self, tally: PassTally) -> None:
        self._progress.update(self._task, description=f"one pass: {tally.describe()}")

    def __enter__(self) -> PassProgress:
        self.tally.on_change.append(self._update)
        self.tally.active = True
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.tally.active = False
        self.tally.on_change.remove(self._update)
        self._progress.stop()
