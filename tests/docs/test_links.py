"""Every link in the guides (and in the README's Guides section) leads somewhere real: the
file exists, and an anchor names a heading of that file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs.guides import (
    GUIDES,
    PARTNER_GUIDE,
    README,
    ROOT,
    anchors,
    links,
    read,
    section,
    slug,
)

EXTERNAL = ("http://", "https://", "mailto:")


def local_links(document: Path, text: str) -> list[tuple[str, Path, str]]:
    """(link as written, file it names, anchor or "") for each link to this repository."""
    found = []
    for target in links(text):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = unquote(target).partition("#")
        found.append((target, (document.parent / path).resolve() if path else document, anchor))
    return found


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_every_link_in_a_guide_names_an_existing_file_and_heading(guide: Path) -> None:
    found = local_links(guide, read(guide))
    assert found, f"{guide.name} links nowhere"
    for target, path, anchor in found:
        assert path.exists(), f"{guide.name}: link {target} leads to a missing file"
        assert path.is_relative_to(ROOT), f"{guide.name}: link {target} leaves the repository"
        if anchor:
            assert path.suffix == ".md", f"{guide.name}: anchor on a non-Markdown file: {target}"
            assert anchor in anchors(read(path)), f"{guide.name}: no heading for {target}"


def test_the_readme_links_all_three_guides_from_its_guides_section() -> None:
    guides = section(read(README), "Guides").body
    linked = {path for _, path, _ in local_links(README, guides)}
    assert set(GUIDES) <= linked
    for path in linked:
        assert path.exists(), f"README links a missing file: {path}"


def test_the_partner_guide_links_every_schema_and_every_sample_document() -> None:
    # a partner builds against these files: each must be reachable from the guide
    linked = {path for _, path, _ in local_links(PARTNER_GUIDE, read(PARTNER_GUIDE))}
    wanted = [*ROOT.glob("schemas/*.xsd"), *ROOT.glob("schemas/*.csv.json"),
              *ROOT.glob("samples/*.xml"), *ROOT.glob("samples/*.csv")]
    assert wanted
    missing = sorted(str(path.relative_to(ROOT)) for path in wanted if path.resolve() not in linked)
    assert not missing, f"not linked from the partner guide: {missing}"


def test_anchors_are_made_the_way_github_makes_them() -> None:
    # the anchor check above is only as good as this: punctuation and code marks go
    assert slug('Crash safety and what "exactly once" means') == (
        "crash-safety-and-what-exactly-once-means")
    assert slug("Reading the exchange log and an order's timeline") == (
        "reading-the-exchange-log-and-an-orders-timeline")
    assert slug("`filebridge alerts ack ALERT_ID [--by NAME]`") == (
        "filebridge-alerts-ack-alert_id---by-name")
    assert anchors("# A\n\n## A\n") == {"a", "a-1"}
