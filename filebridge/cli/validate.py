"""``filebridge validate FILE...``: check documents the way filebridge checks partner files.

Each file's format (XML or CSV), document type and CSV delimiter are told from its content;
it is then read with the same codec, size limit and hardened parser as an inbound file.
Every problem is printed as ``FILE:LINE: FIELD: message``. Exit 0 when every file is
valid, 1 when any is not (or cannot be read); no config is needed.

A file that is neither named ``*.xml``/``*.csv`` nor recognisable as a document by its
content (``samples/README.md``, ``samples/filebridge.toml``) is skipped with a note, so
that ``filebridge validate samples/*`` checks every example document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from filebridge.cli.context import console, print_json
from filebridge.cli.render import plain
from filebridge.config import parse_size
from filebridge.errors import DocumentError, HostileDocument, Problem
from filebridge.formats.base import DEFAULT_MAX_SIZE
from filebridge.formats.detect import detect

DOCUMENT_SUFFIXES = (".xml", ".csv")


@dataclass
class Verdict:
    """What ``validate`` found about one file."""

    file: str
    valid: bool | None = False  # None: skipped, not a document
    skipped: str | None = None
    document: str | None = None
    count: int = 0
    headline: str = ""
    errors: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        extra = {"skipped": self.skipped} if self.skipped else {}
        return {
            "file": self.file,
            "valid": self.valid,
            "document": self.document,
            "count": self.count,
            "errors": [
                {"line": p.line, "field": p.field, "message": p.message} for p in self.errors
            ],
            **extra,
        }


def validate_file(path: Path, max_size: int = DEFAULT_MAX_SIZE) -> Verdict:
    """Read and validate one file; never raises for anything wrong with the file."""
    verdict = Verdict(str(path))
    try:
        size = path.stat().st_size
        if path.is_dir():
            return _refused(verdict, "is a directory, not a file")
        if size > max_size:
            raise HostileDocument(
                f"refused unread: the file is {size} bytes, over the limit of {max_size} bytes"
            )
        data = path.read_bytes()
    except OSError as exc:
        return _refused(verdict, f"cannot read: {exc.strerror or exc}")
    except HostileDocument as exc:
        return _refused(verdict, str(exc))
    detected = detect(data)
    if detected.document is None and detected.format == "csv" and (
        path.suffix.lower() not in DOCUMENT_SUFFIXES
    ):
        verdict.valid = None
        verdict.skipped = "not an XML or CSV document"
        return verdict
    verdict.document = detected.document.kind if detected.document else None
    try:
        documents = detected.codec(max_size).decode(data)
    except DocumentError as exc:
        details = "; ".join(str(p) for p in exc.problems)
        verdict.headline = str(exc).removesuffix(f": {details}") if details else str(exc)
        verdict.errors = exc.problems or [Problem(verdict.headline)]
        return verdict
    except Exception as exc:  # a validator must answer for any file, never crash on one
        return _refused(verdict, f"cannot validate: {type(exc).__name__}: {exc}")
    verdict.valid = True
    verdict.count = len(documents)
    verdict.document = documents[0].kind if documents else verdict.document
    return verdict


def _refused(verdict: Verdict, message: str) -> Verdict:
    verdict.headline = message
    verdict.errors = [Problem(message)]
    return verdict


def _print(verdict: Verdict) -> None:
    out = console()
    if verdict.skipped:
        out.print(Text.assemble(("SKIPPED ", "yellow"), plain(verdict.file),
                                plain(f"  {verdict.skipped}")),
                  soft_wrap=True)
        return
    if verdict.valid:
        plural = "s" if verdict.count != 1 else ""
        out.print(Text.assemble(("OK ", "bold green"), plain(verdict.file),
                                plain(f"  ({verdict.document}, {verdict.count} "
                                      f"document{plural})")),
                  soft_wrap=True)
        return
    what = f"{verdict.document}: " if verdict.document else ""
    out.print(Text.assemble(("INVALID ", "bold red"), plain(verdict.file),
                            plain(f"  {what}{verdict.headline}")),
              soft_wrap=True)
    if verdict.errors == [Problem(verdict.headline)]:
        return
    for problem in verdict.errors:
        where = verdict.file + (f":{problem.line}" if problem.line else "")
        label = f"{problem.field}: " if problem.field else ""
        out.print(Text.assemble("  ", plain(where, "dim"), ": ", plain(label, "bold"),
                                plain(problem.message)),
                  soft_wrap=True)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one entry per file.")
@click.option("--max-size", default="10MB", show_default=True,
              help="Refuse files larger than this, unread (as inbound files are).")
def validate(files: tuple[Path, ...], as_json: bool, max_size: str) -> None:
    """Validate documents against the XSDs / CSV specs; every error with its line."""
    try:
        limit = parse_size(max_size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-size") from None
    verdicts = [validate_file(path, limit) for path in files]
    if as_json:
        print_json([verdict.as_json() for verdict in verdicts])
    else:
        for verdict in verdicts:
            _print(verdict)
        if len(verdicts) > 1:
            good = sum(verdict.valid is True for verdict in verdicts)
            bad = sum(verdict.valid is False for verdict in verdicts)
            skipped = len(verdicts) - good - bad
            console().print(plain(f"{good} valid, {bad} invalid"
                                  + (f", {skipped} skipped" if skipped else "")))
    if any(verdict.valid is False for verdict in verdicts):
        raise SystemExit(1)

