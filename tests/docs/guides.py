"""Reading the guides as a reader does: headings, sections, tables, links and code blocks.

The guides are plain GitHub Markdown. These helpers understand just enough of it for
the tests to hold the guides to the code: fenced code blocks are never mistaken for
headings or links, table cells split on unescaped pipes only, and heading anchors are
made the way GitHub makes them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPERATOR_GUIDE = DOCS / "operator-guide.md"
PARTNER_GUIDE = DOCS / "partner-guide.md"
API_GUIDE = DOCS / "api-guide.md"
GUIDES = (OPERATOR_GUIDE, PARTNER_GUIDE, API_GUIDE)
README = ROOT / "README.md"

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`([^`]*)`")
_MARKER = re.compile(r"^<!--\s*([\w-]+):\s*(\S+)\s*-->\s*$")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str


@dataclass(frozen=True)
class Section:
    level: int
    title: str  # as written, inline code in backticks
    body: str  # everything up to the next heading of the same or a higher level

    @property
    def code_spans(self) -> list[str]:
        return _CODE_SPAN.findall(self.title)


def _lines_outside_code(text: str) -> list[tuple[str, bool]]:
    """Each line with whether it lies outside fenced code blocks."""
    result, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            result.append((line, False))
            inside = not inside
            continue
        result.append((line, not inside))
    return result


def code_blocks(text: str) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    language: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        fence = _FENCE.match(line.strip())
        if fence and language is None:
            language, lines = line.strip()[3:].strip(), []
        elif fence:
            blocks.append(CodeBlock(language or "", "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def sections(text: str) -> list[Section]:
    """Every heading with the text below it, down to the next heading of its level or above."""
    lines = _lines_outside_code(text)
    starts = []
    for index, (line, outside) in enumerate(lines):
        match = _HEADING.match(line) if outside else None
        if match:
            starts.append((index, len(match.group(1)), match.group(2)))
    found = []
    for position, (index, level, title) in enumerate(starts):
        end = next((i for i, lv, _ in starts[position + 1:] if lv <= level), len(lines))
        body = "\n".join(line for line, _ in lines[index + 1:end])
        found.append(Section(level, title, body))
    return found


def section(text: str, title: str) -> Section:
    """The one section with exactly this heading text."""
    matches = [s for s in sections(text) if s.title == title]
    assert len(matches) == 1, f"expected one section titled {title!r}, found {len(matches)}"
    return matches[0]


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: code and link text kept, punctuation dropped,
    lower case, spaces to hyphens."""
    text = _CODE_SPAN.sub(r"\1", title)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a document, with GitHub's -1, -2 for repeated headings."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in sections(text):
        base = slug(heading.title)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def links(text: str) -> list[str]:
    """Link targets outside code blocks and code spans."""
    targets = []
    for line, outside in _lines_outside_code(text):
        if outside:
            targets += _LINK.findall(_CODE_SPAN.sub("", line))
    return targets


def split_row(line: str) -> list[str]:
    """The cells of one table row; ``\\|`` is a pipe inside a cell."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def table_after(lines: list[str], start: int) -> list[dict[str, str]]:
    """The table beginning at or after line ``start`` (blank lines skipped), as rows of
    ``{header: cell}``."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    header = split_row(lines[index])
    assert set(lines[index + 1].replace("|", "").strip()) <= set("-: "), (
        f"no table separator after {lines[index]!r}")
    rows = []
    for line in lines[index + 2:]:
        if not line.strip().startswith("|"):
            break
        cells = split_row(line)
        assert len(cells) == len(header), f"{len(cells)} cells, header {len(header)}: {line}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def marked_tables(text: str, kind: str) -> dict[str, list[dict[str, str]]]:
    """Tables announced by ``<!-- kind: NAME -->`` on the line before them, by NAME."""
    lines = text.splitlines()
    tables: dict[str, list[dict[str, str]]] = {}
    for index, line in enumerate(lines):
        match = _MARKER.match(line.strip())
        if match and match.group(1) == kind:
            name = match.group(2)
            assert name not in tables, f"two tables marked {kind}: {name}"
            tables[name] = table_after(lines, index + 1)
    return tables


def only_code(cell: str) -> str:
    """The text of a cell that is exactly one code span (a key, an event name)."""
    match = re.fullmatch(r"`([^`]+)`", cell.strip())
    assert match, f"expected a single `code` cell, got {cell!r}"
    return match.group(1)
