"""Route a notify target (``scheme:address``) to the notifier of its scheme.

The escalation engine holds one ``NotifierSet`` and hands it targets straight from the
config; it never needs to know which notifier sits behind a scheme.
"""

from __future__ import annotations

from collections.abc import Iterable

from filebridge.config import NotifyConfig
from filebridge.errors import NotifyError
from filebridge.notify.base import AlertNotice, Notifier
from filebridge.notify.email import EmailNotifier
from filebridge.notify.log import LogNotifier
from filebridge.notify.webhook import WebhookNotifier

__all__ = ["NotifierSet", "split_target"]


def split_target(target: str) -> tuple[str, str]:
    """``"email:ops@example.com"`` -> ``("email", "ops@example.com")``."""
    scheme, sep, address = target.partition(":")
    if not sep or not scheme:
        raise NotifyError(f"notify target {target!r} has no scheme (email:, webhook: or log:)")
    return scheme.strip().lower(), address.strip()


class NotifierSet:
    """One notifier per scheme, built from ``[notify]``.

    ``notifiers`` replaces the configured notifier of the same scheme (an
    ``EmailNotifier`` with a private CA's ``ssl_context``, say) or adds a scheme.
    """

    def __init__(
        self, config: NotifyConfig | None = None, notifiers: Iterable[Notifier] = ()
    ) -> None:
        config = config or NotifyConfig()
        self._by_scheme: dict[str, Notifier] = {
            "email": EmailNotifier(config.email),
            "webhook": WebhookNotifier(config.webhook),
            "log": LogNotifier(),
        }
        for notifier in notifiers:
            self._by_scheme[notifier.scheme] = notifier

    @property
    def schemes(self) -> frozenset[str]:
        return frozenset(self._by_scheme)

    def send(self, target: str, notice: AlertNotice) -> None:
        """Deliver ``notice`` to ``target``; ``NotifyError`` says why it could not."""
        scheme, address = split_target(target)
        notifier = self._by_scheme.get(scheme)
        if notifier is None:
            known = ", ".join(f"{name}:" for name in sorted(self._by_scheme))
            raise NotifyError(f"notify target {target!r}: unknown scheme (use {known})")
        notifier.send(address, notice)

    def close(self) -> None:
        """Close every notifier; safe to call twice."""
        for notifier in self._by_scheme.values():
            notifier.close()
