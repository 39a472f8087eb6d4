"""The Notifier port: tell people about an alert, at one escalation level.

A target is a string ``scheme:address`` from the config (``email:ops@example.com``,
``webhook:https://hooks.example/x``, ``log:alerts``). A notifier raises ``NotifyError``
when delivery failed; the escalation engine journals every attempt, sent or failed,
and retries failed ones on its next tick.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from filebridge.model import Alert


@dataclass(frozen=True)
class AlertNotice:
    """Everything a person needs to act on an alert, ready to render as text or JSON."""

    alert: Alert
    level: int
    subject: str  # "[filebridge] <kind> <partner> <order id>"
    what: str  # what failed, in one sentence
    where: str  # partner, folder, host
    since: datetime
    last_error: str | None
    see_command: str  # e.g. "filebridge show ORD-1" or "filebridge log --partner p"
    ack_command: str  # "filebridge alerts ack 12 --by NAME"

    def as_text(self) -> str:
        """The plain-text body of an email or a log line."""
        lines = [
            self.what,
            "",
            f"Where:       {self.where}",
            f"Since:       {self.since.isoformat()}",
            f"Occurrences: {self.alert.count}",
            f"Last error:  {self.last_error or '-'}",
            f"Level:       {self.level}",
            "",
            f"See more:    {self.see_command}",
            f"Acknowledge: {self.ack_command}",
            "",
            "Acknowledging stops escalation to further levels; the alert resolves by itself",
            "when the awaited document arrives or the order is resent successfully.",
        ]
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        """The webhook body: the alert's contract fields plus level and the human facts."""
        body: dict[str, object] = dict(self.alert.contract_json())
        body.update(
            level=self.level,
            subject=self.subject,
            what=self.what,
            where=self.where,
            since=self.since.isoformat(),
            last_error=self.last_error,
            see_command=self.see_command,
            ack_command=self.ack_command,
        )
        return body


class Notifier(ABC):
    """Delivers notices to targets of one scheme."""

    scheme: str

    @abstractmethod
    def send(self, address: str, notice: AlertNotice) -> None:
        """Deliver ``notice`` to ``address``; raise ``NotifyError`` on failure."""

    def close(self) -> None:  # noqa: B027
        """Release resources; safe to call twice."""
