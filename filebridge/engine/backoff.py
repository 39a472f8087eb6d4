"""Retry delays: exponential, capped, jittered; a pure function so it is easy to test."""

from __future__ import annotations

import random
from datetime import timedelta


def compute_backoff(
    attempt: int,
    initial: timedelta,
    maximum: timedelta,
    rand: random.Random | None = None,
) -> timedelta:
    """The delay before retry number ``attempt`` (1 = after the first failure).

    ``initial`` doubles per attempt up to ``maximum``; the result is jittered to between
    50% and 100% of that value so that many orders failing together do not retry in step.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    base = min(initial.total_seconds() * (2 ** (attempt - 1)), maximum.total_seconds())
    jitter = (rand or random).uniform(0.5, 1.0)
    return timedelta(seconds=base * jitter)
