"""Pydantic's errors as ``Problem`` lines that name the field path an operator knows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from filebridge.errors import Problem


def validation_problems(exc: ValidationError) -> list[Problem]:
    """One ``Problem`` per error, with the dotted field path (``site.country_code``)."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or None
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(Problem(message, field=field))
    return problems


def cross_field_problems(raw: Any) -> list[Problem]:
    """The order rules that span fields, checked on raw input.

    pydantic runs a model's cross-field validators only once every field is valid, so an
    order with a bad quantity *and* a missing container id would report the second only
    after the first is fixed. The API promises every problem at once: these checks run
    beside the field errors, on whatever parts of the input are readable.
    """
    if not isinstance(raw, dict):
        return []
    problems: list[Problem] = []
    container = _group(raw, "container")
    action = raw.get("action")
    if isinstance(action, str) and action != "deliver" and not container.get("container_id"):
        problems.append(Problem(f"is required for action {action!r}",
                                field="container.container_id"))
    fraction = _group(container, "fraction")
    ewc = fraction.get("ewc_code")
    if isinstance(ewc, str) and ewc.endswith("*") and fraction.get("hazardous") in (
            False, "false", "0", 0):
        problems.append(Problem(f"EWC code {ewc!r} marks hazardous waste, so hazardous "
                                f"must be true", field="container.fraction.hazardous"))
    window = _group(raw, "window")
    earliest, latest = _moment(window.get("earliest")), _moment(window.get("latest"))
    if earliest and latest and latest <= earliest:
        problems.append(Problem("latest must be after earliest", field="window.latest"))
    return problems


def _group(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else None
    return None
