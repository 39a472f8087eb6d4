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
from filebridge.outside_text import quoted, shown, shown_all


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
    orders: str | None = None  # "1000 orders: A, B, C, D, E and 995 more"

    def as_text(self) -> str:
        """The plain-text body of an email: facts first, then steps, then the commands.

        Commands stay on lines of their own so they can be copied whole. Every value is
        escaped onto one line, and the texts a partner or a server wrote (the last
        error, the alert's details) stand apart on quoted ``> `` lines, so none of it can
        pass for our own words, such as a forged "What to do" step.
        """
        alert = self.alert
        lines = [
            shown(self.what),
            "",
            shown(f"Alert:       #{alert.id} {alert.kind.value}, partner {alert.partner}"
                  + (f", order {alert.order_id}" if alert.order_id else "")
                  + f" (escalation level {self.level})"),
            shown(f"Where:       {self.where}"),
            f"Since:       {self.since.isoformat(timespec='seconds')}",
        ]
        if self.orders:
            lines.append(f"Orders:      {self.orders}")
        lines += [
            f"Occurrences: {alert.count}",
        ]
        lines += _quoted_field("Last error", self.last_error)
        if alert.message and alert.message != self.what:
            lines += _quoted_field("Details", alert.message)
        if self.advice:
            lines += ["", "What to do:"]
            lines += [f"  - {shown(step)}" for step in self.advice]
        lines += [
            "",
            shown(f"See more:    {self.see_command}"),
            shown(f"Acknowledge: {self.ack_command}"),
            "",
            "Acknowledging stops escalation to further levels; it does not fix the cause.",
        ]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, object]:
        """The webhook body: the alert's contract fields plus level and the human facts.

        ``level`` is the level of this notification (the alert's own ``level`` field is
        the highest level notified before it). Every text is escaped and capped as in
        an email: receivers show it to people (chat, paging).
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
        return dict(shown_all(body))


def _quoted_field(label: str, text: str | None) -> list[str]:
    """``Label:  -`` when there is nothing, else the label and the text quoted under it."""
    if not text:
        return [f"{label + ':':<12} -"]
    return [f"{label} (as received, quoted):", quoted(text)]


class Notifier(ABC):
    """Delivers notices to targets of one scheme."""

    scheme: str

    @abstractmethod
    def send(self, address: str, notice: AlertNotice) -> None:
        """Deliver ``notice`` to ``address``; raise ``NotifyError`` on failure."""

    def close(self) -> None:  # noqa: B027
        """Release resources; safe to call twice."""
