"""What the guides list by name (events, errors, alert kinds, statuses, folders, the JSON
shape of an order) is exactly what the code has."""

from __future__ import annotations

import inspect
import json
import re

from filebridge import errors
from filebridge.config import PartnerPolicy
from filebridge.engine.events import EVENTS
from filebridge.model import AlertKind, ExchangeStatus, Order, OrderState
from filebridge.transports.base import TEMP_SUFFIXES
from tests.docs.guides import (
    API_GUIDE,
    OPERATOR_GUIDE,
    PARTNER_GUIDE,
    ROOT,
    code_blocks,
    only_code,
    read,
    section,
    sections,
    table_after,
)


def first_table(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("|"))
    return table_after(lines, start)


def test_the_callback_table_lists_exactly_the_events_bridge_on_accepts() -> None:
    rows = first_table(section(read(API_GUIDE), "Callbacks").body)
    assert {only_code(row["event"]) for row in rows} == set(EVENTS)


def error_tree() -> dict[str, str | None]:
    """``{class name: parent name}`` from the tree drawn in the API guide."""
    block = next(b.text for b in code_blocks(section(read(API_GUIDE), "Errors").body)
                 if "FileBridgeError" in b.text)
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^([\s│├└─]*)(\w+)", line)
        if not match:
            continue
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(2)))
    return parents


def test_the_error_tree_in_the_api_guide_is_the_class_tree_of_filebridge_errors() -> None:
    classes = {name: cls for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, errors.FileBridgeError)}
    tree = error_tree()
    assert set(tree) == set(classes)
    for name, parent in tree.items():
        base = classes[name].__bases__[0]
        assert parent == (base.__name__ if base is not Exception else None), name


def test_every_alert_kind_has_its_section_in_the_operator_guide_and_no_other_does() -> None:
    kinds = section(read(OPERATOR_GUIDE), "What each kind means and what to do")
    documented = {s.code_spans[0] for s in sections(kinds.body) if s.level == 4}
    assert documented == {kind.value for kind in AlertKind}


def test_the_status_table_explains_every_exchange_status() -> None:
    body = section(read(OPERATOR_GUIDE),
                   "Reading the exchange log and an order's timeline").body
    statuses = body[body.index("Statuses:"):]
    assert {only_code(row["status"]) for row in first_table(statuses)} == {
        status.value for status in ExchangeStatus}


def test_every_order_state_is_named_in_the_operator_and_api_guides() -> None:
    for guide in (OPERATOR_GUIDE, API_GUIDE):
        text = read(guide)
        missing = [state.value for state in OrderState if f"`{state.value}`" not in text]
        assert not missing, f"{guide.name} does not name {missing}"


def test_the_partner_guide_gives_the_default_folders_and_ignored_name_endings() -> None:
    folders = first_table(section(read(PARTNER_GUIDE), "Folders").body)
    defaults = PartnerPolicy()
    assert [only_code(row["folder"]) for row in folders] == [
        defaults.orders_dir, defaults.acks_dir, defaults.results_dir, defaults.archive_dir,
        defaults.error_dir]
    rename_rule = section(read(PARTNER_GUIDE), "Files you write: temp name, then rename").body
    for suffix in TEMP_SUFFIXES:
        assert f"`{suffix}`" in rename_rule


def test_the_json_order_in_the_api_guide_is_a_valid_order_equal_to_the_sample() -> None:
    shape = section(read(API_GUIDE), "The JSON shape of an order").body
    example = next(block.text for block in code_blocks(shape) if block.language == "json")
    order = Order.model_validate(json.loads(example))
    assert order == Order.from_xml((ROOT / "samples" / "order-empty.xml").read_bytes())
    assert json.loads(example) == order.model_dump(mode="json")
