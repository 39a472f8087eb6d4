"""Every error filebridge raises on purpose, as one tree.

Callers catch the branch they can act on; the CLI maps branches to exit codes
(2 for ``ConfigError``, 3 for ``NotFound``, 1 for the rest).

    FileBridgeError
    ├── ConfigError                  bad or missing configuration (names file and key)
    ├── DocumentError                a document that cannot be read or is not valid
    │   ├── InvalidDocument          parsed, but breaks the schema or the model's rules
    │   │   └── InvalidOrder         an order the backend tried to submit
    │   └── HostileDocument          refused before parsing: DOCTYPE, entities, size
    ├── NotFound                     an id the operator gave does not exist (exit 3)
    │   ├── OrderNotFound            no order with that id in the journal
    │   ├── AlertNotFound            no alert with that id
    │   └── PartnerNotFound          no partner of that name in the config
    ├── JournalError                 the journal cannot be opened or migrated
    │   └── ConcurrentUpdate         a row changed since it was read (another daemon)
    ├── NotifyError                  a notification could not be delivered
    ├── PartnerNotConfigured         an order's partner is no longer in the config
    └── TransportError               a folder operation failed
        ├── FileAlreadyExists        the final name is taken; we never overwrite
        ├── RemoteFileMissing        the file is gone (picked up or moved by someone else)
        └── PartnerUnreachable       no connection at all; does not use up attempts
            └── HostKeyMismatch      the server's key is unknown or changed

Library errors (OSError, paramiko.SSHException, sqlite3.Error, ...) are translated
into this tree at the adapter boundary with ``raise ... from exc`` so the engine
never needs to know which library sits below a port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class FileBridgeError(Exception):
    """Base of every error filebridge raises on purpose."""


class ConfigError(FileBridgeError):
    """The configuration is missing, unreadable or invalid; the message names file and key."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (field path and/or line) and what."""

    message: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(self.field)
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DocumentError(FileBridgeError):
    """A document could not be accepted; ``problems`` lists every reason found."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        if self.problems:
            details = "; ".join(str(p) for p in self.problems)
            message = f"{message}: {details}"
        super().__init__(message)


class InvalidDocument(DocumentError):
    """The document parsed but breaks the schema or the model's rules."""


class InvalidOrder(InvalidDocument):
    """An order submitted through the API or CLI is invalid; no file was written."""


class HostileDocument(DocumentError):
    """Refused unparsed: a DOCTYPE, entity tricks, or over the size limit."""


class NotFound(FileBridgeError):
    """Something an operator named by id does not exist."""


class OrderNotFound(NotFound):
    """No order with this id is known to the journal."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        # quoted, not repr(): whatever shows the message escapes it exactly once
        super().__init__(f"no order with id '{order_id}'")


class AlertNotFound(NotFound):
    """No alert with this id is known to the journal."""

    def __init__(self, alert_id: int) -> None:
        self.alert_id = alert_id
        super().__init__(f"no alert with id {alert_id}")


class PartnerNotFound(NotFound):
    """The configuration has no partner of this name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown partner {name!r} (configured: {', '.join(known) or 'none'})")


class JournalError(FileBridgeError):
    """The journal could not be opened, migrated or written."""


class ConcurrentUpdate(JournalError):
    """An order row changed between reading and saving it: another daemon (or an
    operator's command) got there first. The caller reads the row again and decides
    afresh; nothing was written."""

    def __init__(self, order_id: str, version: int) -> None:
        self.order_id = order_id
        self.version = version
        super().__init__(
            f"order {order_id} was changed by another process since it was read "
            f"(version {version}); read it again and retry")


class NotifyError(FileBridgeError):
    """A notification target could not be reached or refused the message."""


class TransportError(FileBridgeError):
    """A folder operation on a partner's drop folders failed."""


class FileAlreadyExists(TransportError):
    """The final file name already exists; filebridge never overwrites."""


class RemoteFileMissing(TransportError):
    """The file is no longer there."""


class PartnerUnreachable(TransportError):
    """The partner's folders cannot be reached at all (refused, timeout, DNS, auth)."""


class HostKeyMismatch(PartnerUnreachable):
    """The SFTP server offered a host key that is unknown or differs from known_hosts."""


class PartnerNotConfigured(FileBridgeError):
    """The order belongs to a partner that is no longer in the config: nothing would
    send it, so it is not queued again (exit 1)."""

    def __init__(self, order_id: str, partner: str) -> None:
        self.order_id = order_id
        self.partner = partner
        super().__init__(
            f"order {order_id} is for partner {partner}, which is not in the config; "
            f"nothing would send it: add [partners.{partner}] again, or leave it queued "
            f"(its partner_not_configured alert lists every such order)")
