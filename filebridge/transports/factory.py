"""Open the transport a partner's config asks for.

Adapters are imported only when a partner uses them, so a host without paramiko (or
without watchdog) still runs the partners it can serve, and the core never imports
an adapter's library.
"""

from __future__ import annotations

from filebridge.clock import Clock
from filebridge.config import BridgeConfig, PartnerConfig
from filebridge.errors import ConfigError
from filebridge.transports.base import Transport


def open_transport(partner: PartnerConfig, config: BridgeConfig,
                   clock: Clock | None = None) -> Transport:
    """The partner's transport, not yet connected (connections are made on first use).

    ``local``: the folder ``root`` (relative to the config file's folder). ``memory``:
    the in-process store named by ``root``, shared by every transport opened on it.
    ``sftp``: the partner's SSH server. ``clock`` stamps memory files' mtimes and paces
    SFTP reconnects; the wall clock when omitted.
    """
    if partner.transport == "local":
        from filebridge.transports.local import LocalTransport

        return LocalTransport(config.resolve_path(partner.root),
                              polling=partner.polling_observer,
                              poll_interval=min(partner.poll_interval.total_seconds(), 1.0))
    if partner.transport == "memory":
        from filebridge.transports.memory import MemoryStore, MemoryTransport

        stamp = (lambda: clock.now().timestamp()) if clock is not None else None
        return MemoryTransport(MemoryStore.named(partner.root), clock=stamp)
    if partner.transport == "sftp":
        try:
            from filebridge.transports.sftp import SftpTransport
        except ImportError as exc:
            raise ConfigError(f"partners.{partner.name}.transport: 'sftp' is not available "
                              f"here: {exc}") from exc
        return SftpTransport.from_config(partner, config, clock)
    raise ConfigError(f"partners.{partner.name}.transport: unknown transport "
                      f"{partner.transport!r}")
