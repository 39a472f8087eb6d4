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
    """Everything a person needs to act on an alert, ready to render as text or JSON.

    ``notice_for()`` in ``filebridge.notify.notice`` builds one per alert kind; every
    notifier renders the same notice, so an email, a webhook and a log line never
    disagree about what happened.
    """

    alert: Alert
    level: int
    subject: str  # "[filebridge] <kind> <partner> <order id>"
    what: str  # what failed, in one sentence
    where: str  # partner, folder, host
    since: datetime
    last_error: str | None
    see_command: str  # e.g. "filebridge show ORD-1" or "filebridge log --partner p"
    ack_command: str  # "filebridge alerts ack 12 --by NAME"
    advice: tuple[str, ...] = ()  # what to do, one step per entry

    def as_text(self) -> str:
        """The plain-text body of an email: facts first, then steps, then the commands.

        Commands stay on lines of their own so they can be copied whole.
        """
        alert = self.alert
        lines = [
            self.what,
            "",
            f"Alert:       #{alert.id} {alert.kind.value}, partner {alert.partner}"
            + (f", order {alert.order_id}" if alert.order_id else "")
            + f" (escalation level {self.level})",
            f"Where:       {self.where}",
            f"Since:       {self.since.isoformat(timespec='seconds')}",
            f"Occurrences: {alert.count}",
            f"Last error:  {self.last_error or '-'}",
        ]
        if alert.message and alert.message != self.what:
            lines.append(f"Details:     {alert.message}")
        if self.advice:
            lines += ["", "What to do:"]
            lines += [f"  - {step}" for step in self.advice]
        lines += [
            "",
            f"See more:    {self.see_command}",
            f"Acknowledge: {self.ack_command}",
            "",
            "Acknowledging stops escalation to further levels; it does not fix the cause.",
        ]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, object]:
        """The webhook body: the alert's contract fields plus level and the human facts.

        ``level`` is the level of this notification (the alert's own ``level`` field is
        the highest level notified before it).
        """
        body: dict[str, object] = dict(self.alert.contract_json())
        body.update(
            level=self.level,
            subject=self.subject,
            what=self.what,
            where=self.where,
            since=self.since.isoformat(),
            last_error=self.last_error,
            advice=list(self.advice),
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
