"""Pydantic's errors as ``Problem`` lines that name the field path an operator knows."""

from __future__ import annotations

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
