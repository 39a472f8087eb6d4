"""``filebridge check [PARTNER]``: can we reach each partner's folders and use them?

For every configured partner (or the one named) it opens the partner's transport and
runs its ``check`` on the five folders: for SFTP the connection, the host key against
known_hosts, the login, then per folder whether it exists (created when missing and
allowed), can be listed, and accepts a probe file that is renamed and removed again.
One table per partner and one verdict line each, so an operator sees at once what
failed and where. Exit codes: 0 all passed, 1 something failed, 2 config error,
3 unknown partner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from filebridge.cli.context import config_from, console, print_json
from filebridge.cli.render import plain
from filebridge.config import BridgeConfig, PartnerConfig
from filebridge.errors import ConfigError, FileBridgeError
from filebridge.outside_text import shown
from filebridge.transports.base import FolderCheck

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


@dataclass
class PartnerCheck:
    """The outcome of checking one partner."""

    partner: str
    transport: str
    target: str
    rows: list[FolderCheck] = field(default_factory=list)
    config_error: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transport": self.transport,
            "target": self.target,
            "checks": [{"check": r.name, "ok": r.ok, "detail": r.detail} for r in self.rows],
        }


def partner_folders(partner: PartnerConfig) -> list[str]:
    return [partner.orders_dir, partner.acks_dir, partner.results_dir,
            partner.archive_dir, partner.error_dir]


def describe_target(partner: PartnerConfig, config: BridgeConfig) -> str:
    if partner.transport == "sftp":
        return f"sftp://{partner.username}@{partner.host}:{partner.port}{partner.root}"
    if partner.transport == "local":
        return str(config.resolve_path(partner.root))
    return partner.transport


def check_partner(partner: PartnerConfig, config: BridgeConfig) -> PartnerCheck:
    """Run one partner's checks; never raises, every problem becomes a failed line."""
    result = PartnerCheck(partner.name, partner.transport, describe_target(partner, config))
    from filebridge.transports.factory import open_transport

    try:
        transport = open_transport(partner, config)
    except ConfigError as exc:
        result.config_error = True
        result.rows.append(FolderCheck("config", False, str(exc)))
        return result
    except FileBridgeError as exc:
        result.rows.append(FolderCheck("open", False, str(exc)))
        return result
    try:
        result.rows.extend(transport.check(partner_folders(partner)))
    except FileBridgeError as exc:
        result.rows.append(FolderCheck("check", False, str(exc)))
    finally:
        transport.close()
    if not result.rows:
        result.rows.append(FolderCheck("check", False, "the transport reported nothing"))
    return result


def verdict(result: PartnerCheck) -> Text:
    total = len(result.rows)
    failed = [row.name for row in result.rows if not row.ok]
    if not failed:
        return Text.assemble(("PASS ", "bold green"),
                             plain(f"{result.partner}: all {total} checks passed"))
    return Text.assemble(("FAIL ", "bold red"),
                         plain(f"{result.partner}: {len(failed)} of {total} checks failed: "
                               f"{', '.join(failed)}"))


def check_table(result: PartnerCheck) -> Table:
    table = Table(title=plain(f"{result.partner} ({result.transport}: {result.target})"),
                  title_justify="left")
    table.add_column("check", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for row in result.rows:
        status = plain("ok", "green") if row.ok else plain("FAIL", "bold red")
        table.add_row(plain(row.name), status, plain(row.detail))
    return table


@click.command("check")
@click.argument("partner", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def check(ctx: click.Context, partner: str | None, as_json: bool) -> None:
    """Connect to each partner (or PARTNER): host key, login, folders and permissions."""
    config = config_from(ctx)
    if partner is not None and partner not in config.partners:
        known = ", ".join(config.partners) or "none"
        click.echo(shown(f"filebridge: error: unknown partner {partner!r} "
                         f"(configured: {known})"), err=True)
        ctx.exit(EXIT_NOT_FOUND)
    if not config.partners:
        raise ConfigError(f"{config.path or '<config>'}: no partners configured")
    names = [partner] if partner is not None else list(config.partners)
    results = [check_partner(config.partners[name], config) for name in names]
    all_ok = all(result.ok for result in results)
    if as_json:
        print_json({"ok": all_ok, "partners": {r.partner: r.as_json() for r in results}})
    else:
        out = console()
        for result in results:
            out.print(check_table(result))
            out.print(verdict(result))
            out.print()
        if len(results) > 1:
            failed = [r.partner for r in results if not r.ok]
            out.print(Text.assemble(("FAIL ", "bold red"), plain(
                f"{len(failed)} of {len(results)} partners failed: {', '.join(failed)}"))
                if failed else Text.assemble(("PASS ", "bold green"),
                                             plain(f"all {len(results)} partners passed")))
    if any(result.config_error for result in results):
        ctx.exit(EXIT_USAGE)
    ctx.exit(EXIT_OK if all_ok else EXIT_FAILED)
