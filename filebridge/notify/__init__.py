"""Telling people about alerts: the Notifier port and its email, webhook and log adapters.

``notice_for()`` words an alert for people; ``NotifierSet.send(target, notice)``
delivers it to a ``scheme:address`` target from the escalation config.
"""

from filebridge.notify.base import AlertNotice, Notifier
from filebridge.notify.email import EmailNotifier
from filebridge.notify.log import ALERT_LOGGER, LogNotifier
from filebridge.notify.notice import notice_for, partner_where, subject_for
from filebridge.notify.registry import NotifierSet, split_target
from filebridge.notify.webhook import WebhookNotifier

__all__ = [
    "ALERT_LOGGER",
    "AlertNotice",
    "EmailNotifier",
    "LogNotifier",
    "Notifier",
    "NotifierSet",
    "WebhookNotifier",
    "notice_for",
    "partner_where",
    "split_target",
    "subject_for",
]
