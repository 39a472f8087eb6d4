"""The TOML configuration, read into pydantic models.

Partners inherit every key of ``[defaults]`` and may override any of them. Relative
paths (journal file, local roots, key files) are resolved against the config file's
folder, so a config works the same whatever the current directory is. Any problem is
reported as one ``ConfigError`` line naming the file and the dotted key.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from filebridge.errors import ConfigError, PartnerNotFound

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"15m"``, ``"48h"``, ``"2d"`` (or a number of seconds) to a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration like '30s', '15m', '48h' or '2d'")


def parse_size(value: object) -> int:
    """``"10MB"``, ``"512KiB"`` or a number of bytes to a byte count."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
    raise ValueError(f"{value!r} is not a size like '10MB'")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EscalationLevel(Strict):
    """Notify these targets once the alert has been open for ``after``."""

    after: Duration
    notify: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _targets_have_a_scheme(self) -> EscalationLevel:
        for target in self.notify:
            scheme = target.split(":", 1)[0]
            if ":" not in target or scheme not in ("email", "webhook", "log"):
                raise ValueError(
                    f"notify target {target!r} must start with 'email:', 'webhook:' or 'log:'"
                )
        return self


class PartnerPolicy(Strict):
    """The keys a partner inherits from ``[defaults]`` and may override."""

    format: Literal["xml", "csv"] = "xml"
    csv_delimiter: Literal[",", ";", "\t", "|"] = ","
    csv_batch: bool = False
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial: Duration = timedelta(seconds=5)
    backoff_max: Duration = timedelta(minutes=10)
    ack_timeout: Duration = timedelta(minutes=15)
    result_timeout: Duration = timedelta(hours=48)
    poll_interval: Duration = timedelta(seconds=30)
    settle_time: Duration = timedelta(seconds=2)
    unreachable_after: Duration = timedelta(minutes=10)
    max_inbound_size: Size = 10 * 1000 * 1000
    orders_dir: str = "to_partner/orders"
    acks_dir: str = "from_partner/acks"
    results_dir: str = "from_partner/results"
    archive_dir: str = "from_partner/archive"
    error_dir: str = "from_partner/error"
    archive_keep: Duration | None = None
    # sftp tuning; ignored by the local transport
    connections: int = Field(default=4, ge=1, le=32)
    connect_timeout: Duration = timedelta(seconds=10)
    operation_timeout: Duration = timedelta(seconds=30)
    # local transport: use a polling observer (network shares where inotify sees nothing)
    polling_observer: bool = False


POLICY_KEYS = frozenset(PartnerPolicy.model_fields)


class PartnerConfig(PartnerPolicy):
    """One partner: where its folders are and how to talk to it."""

    name: str
    transport: Literal["local", "sftp", "memory"]
    root: str = "/"
    host: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    username: str | None = None
    key_file: str | None = None
    key_passphrase_env: str | None = None
    password_env: str | None = None
    known_hosts: str | None = None
    disabled_algorithms: dict[str, list[str]] | None = None
    escalation: list[EscalationLevel] | None = None

    @model_validator(mode="after")
    def _sftp_needs_host_and_known_hosts(self) -> PartnerConfig:
        if self.transport == "sftp":
            for key in ("host", "username", "known_hosts"):
                if not getattr(self, key):
                    raise ValueError(f"{key} is required for transport 'sftp'")
            if not (self.key_file or self.password_env):
                raise ValueError("sftp needs key_file or password_env")
        return self

    @property
    def inbound_dirs(self) -> tuple[str, str]:
        return (self.acks_dir, self.results_dir)


class JournalConfig(Strict):
    url: str = "sqlite:///filebridge.db"


class EmailConfig(Strict):
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = "filebridge@localhost"
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=10)


class WebhookConfig(Strict):
    timeout: Duration = timedelta(seconds=10)
    retries: int = Field(default=2, ge=0, le=10)


class NotifyConfig(Strict):
    email: EmailConfig = EmailConfig()
    webhook: WebhookConfig = WebhookConfig()


class EscalationConfig(Strict):
    levels: list[EscalationLevel] = Field(
        default_factory=lambda: [EscalationLevel(after=timedelta(0), notify=["log:alerts"])]
    )


class DaemonConfig(Strict):
    """How this daemon runs: its tick, and (with several daemons) which partners it serves."""

    tick: Duration = timedelta(seconds=1)
    partners: list[str] | None = None
    lease: Duration = timedelta(minutes=5)


class BridgeConfig(Strict):
    """The whole configuration, with every partner's policy already merged with defaults."""

    path: Path | None = None
    journal: JournalConfig = JournalConfig()
    defaults: PartnerPolicy = PartnerPolicy()
    partners: dict[str, PartnerConfig] = Field(default_factory=dict)
    escalation: EscalationConfig = EscalationConfig()
    notify: NotifyConfig = NotifyConfig()
    daemon: DaemonConfig = DaemonConfig()

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def partner(self, name: str) -> PartnerConfig:
        try:
            return self.partners[name]
        except KeyError:
            raise PartnerNotFound(name, sorted(self.partners)) from None

    def resolve_path(self, value: str) -> Path:
        """A path from the config: ``~`` expanded, relative ones against the config's folder."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base_dir / path

    def journal_url(self) -> str:
        """The journal URL with a relative SQLite path resolved against the config's folder."""
        url = self.journal.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            return prefix + str(self.resolve_path(url[len(prefix):]))
        return url

    def escalation_levels(self, partner: str | None) -> list[EscalationLevel]:
        if partner and partner in self.partners and self.partners[partner].escalation:
            return list(self.partners[partner].escalation or [])
        return list(self.escalation.levels)


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """``--config PATH``, else ``$FILEBRIDGE_CONFIG``, else ``./filebridge.toml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("FILEBRIDGE_CONFIG")
    return Path(env) if env else Path("filebridge.toml")


def load_config(path: str | os.PathLike[str] | None = None) -> BridgeConfig:
    """Read, merge and validate the TOML; every problem becomes one ``ConfigError`` line."""
    file = config_path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found (use --config or FILEBRIDGE_CONFIG, "
                          f"or 'filebridge init' to write one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    return config_from_dict(raw, file.resolve())


def config_from_dict(raw: dict[str, Any], path: Path | None = None) -> BridgeConfig:
    """Build a config from an already parsed mapping (used by ``load_config`` and tests)."""
    where = str(path) if path else "<config>"
    defaults = raw.get("defaults", {})
    partners_raw = raw.get("partners", {})
    if not isinstance(defaults, dict) or not isinstance(partners_raw, dict):
        raise ConfigError(f"{where}: [defaults] and [partners.*] must be tables")
    unknown = set(defaults) - POLICY_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"{where}: defaults.{key}: unknown key")
    partners: dict[str, Any] = {}
    for name, table in partners_raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: partners.{name}: must be a table")
        partners[name] = {**defaults, **table, "name": name}
    try:
        return BridgeConfig.model_validate({**raw, "partners": partners, "path": path})
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {message}{suffix}"
