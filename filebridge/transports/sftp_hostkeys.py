"""Host key verification against an OpenSSH ``known_hosts`` file, with nothing auto-added.

A partner's SFTP server proves who it is with its host key. filebridge trusts exactly the
keys written in the configured ``known_hosts``: an unknown host or a changed key is refused
with a ``HostKeyMismatch`` that names the host entry, the key type and SHA256 fingerprint
offered, and what was expected, so an operator can compare fingerprints with the partner
before touching the file. Entries for a non-standard port use OpenSSH's ``[host]:port`` form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import paramiko

from filebridge.errors import HostKeyMismatch, PartnerUnreachable

SSH_DEFAULT_PORT = 22
_RSA_SIGNATURE_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256")


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH writes in ``known_hosts``: ``host`` on port 22, else ``[host]:port``."""
    return host if port == SSH_DEFAULT_PORT else f"[{host}]:{port}"


def describe_key(key: paramiko.PKey) -> str:
    """``ssh-ed25519 SHA256:...``, the form ``ssh-keygen -lf`` and ``ssh`` print."""
    return f"{key.get_name()} {key.fingerprint}"


@dataclass(frozen=True)
class VerifiedHostKey:
    """What ``check`` reports after a successful verification."""

    entry: str
    key_type: str
    fingerprint: str
    known_hosts: Path

    def __str__(self) -> str:
        return (f"{self.key_type} {self.fingerprint} matches {self.entry} "
                f"in {self.known_hosts}")


class KnownHosts:
    """The trusted keys of one partner's server, read from its ``known_hosts`` file.

    Read at every connection, so an operator who fixes the file does not have to restart.
    """

    def __init__(self, path: Path, host: str, port: int) -> None:
        self.path = path
        self.entry = known_hosts_name(host, port)

    def trusted_keys(self) -> dict[str, paramiko.PKey]:
        """Key type -> key for this host; empty when the host is not listed."""
        host_keys = paramiko.HostKeys()
        try:
            host_keys.load(str(self.path))
        except FileNotFoundError:
            raise PartnerUnreachable(
                f"known_hosts file {self.path} does not exist; filebridge needs the partner's "
                f"host key in it and never adds keys by itself"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PartnerUnreachable(f"cannot read known_hosts file {self.path}: {exc}") from exc
        found = host_keys.lookup(self.entry)
        return {key_type: found[key_type] for key_type in found} if found else {}

    def prefer_trusted_types(self, transport: paramiko.Transport,
                             trusted: dict[str, paramiko.PKey]) -> None:
        """Ask the server for a key type we hold first, as OpenSSH's client does.

        Without this a server with several host keys may present one we have no entry
        for, and a perfectly good setup would be refused. Other types stay allowed, so a
        server that lost our type still completes the handshake and we can say what it
        offered instead.
        """
        wanted: list[str] = []
        for key_type in trusted:
            wanted.extend(_RSA_SIGNATURE_ALGORITHMS if key_type == "ssh-rsa" else (key_type,))
        options = transport.get_security_options()
        available = list(options.key_types)
        first = [name for name in wanted if name in available]
        if first:
            options.key_types = first + [name for name in available if name not in first]

    def verify(self, offered: paramiko.PKey, trusted: dict[str, paramiko.PKey]) -> VerifiedHostKey:
        """Accept ``offered`` only if ``known_hosts`` holds exactly that key for this host."""
        if not trusted:
            raise HostKeyMismatch(
                f"host key refused: {self.entry} is not in {self.path}; the server offered "
                f"{describe_key(offered)}. Confirm this fingerprint with the partner, then add "
                f"the key to {self.path} (filebridge never adds keys by itself)"
            )
        expected = trusted.get(offered.get_name())
        if expected is None or expected != offered:
            wanted = ", ".join(describe_key(key) for key in trusted.values())
            raise HostKeyMismatch(
                f"host key refused: {self.entry} offered {describe_key(offered)} but {self.path} "
                f"expects {wanted}. The key changed or someone is in between: confirm the new "
                f"fingerprint with the partner before replacing the entry"
            )
        return VerifiedHostKey(self.entry, offered.get_name(), offered.fingerprint, self.path)
