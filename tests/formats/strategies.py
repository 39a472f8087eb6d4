"""Hypothesis strategies for valid documents, built from the models' constraints.

Text is drawn from the whole of Unicode that the value types allow, with the characters
that break naive codecs (delimiters, quotes, escapes, formula triggers, XML specials)
made likely.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from filebridge.model import Acknowledgement, Action, Order, OrderResult
from filebridge.model import values as v

TRICKY = [*",;|\\:\"'=+-@<>&\t ", "\r\n", "æøå", "ÆØÅ", "€", "😀", "]]>", "&amp;"]
_PRINTABLE_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"
)


def _text(min_size: int, max_size: int, line_breaks: bool = False) -> st.SearchStrategy[str]:
    pieces = [p for p in TRICKY if line_breaks or p not in ("\t", "\r\n")]
    alphabet = st.one_of(st.sampled_from(pieces), _PRINTABLE_CHARS)
    if line_breaks:
        alphabet = st.one_of(alphabet, st.sampled_from(["\n", "\r", "\t"]))
    return st.lists(alphabet, min_size=min_size, max_size=max_size).map("".join).filter(
        lambda s: min_size <= len(s) <= max_size
    )


safe_ids = st.from_regex(v.SAFE_ID_PATTERN, fullmatch=True)
other_ids = _text(1, 64)
short_texts = _text(1, 200).filter(lambda s: len(s) <= 200)
free_texts = _text(1, 120, line_breaks=True)
ewc_codes = st.from_regex(v.EWC_CODE_PATTERN, fullmatch=True)
phones = st.from_regex(v.PHONE_PATTERN, fullmatch=True)
postal_codes = st.from_regex(v.POSTAL_CODE_PATTERN, fullmatch=True)
type_codes = st.from_regex(v.TYPE_CODE_PATTERN, fullmatch=True)
countries = st.sampled_from(sorted(v.ISO_COUNTRY_CODES))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)


def _scaled(max_whole_digits: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals with up to ``places`` decimals and ``max_whole_digits`` before the point."""
    return st.integers(0, places).flatmap(
        lambda p: st.integers(0, 10 ** (max_whole_digits + p) - 1).map(
            lambda n: Decimal(n).scaleb(-p)
        )
    )


kilograms = _scaled(9, 3)
latitudes = st.integers(-90 * 10**7, 90 * 10**7).map(lambda n: Decimal(n).scaleb(-7))
longitudes = st.integers(-180 * 10**7, 180 * 10**7).map(lambda n: Decimal(n).scaleb(-7))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def sites(draw: st.DrawFn) -> dict[str, Any]:
    site = {
        "site_id": draw(other_ids), "street": draw(short_texts),
        "postal_code": draw(postal_codes), "city": draw(short_texts),
        "country_code": draw(countries),
    }
    if draw(st.booleans()):
        site.update(latitude=draw(latitudes), longitude=draw(longitudes))
    return site


@st.composite
def fractions(draw: st.DrawFn) -> dict[str, Any]:
    ewc = draw(ewc_codes)
    hazardous = True if ewc.endswith("*") else draw(st.booleans())
    return {"code": draw(short_texts), "ewc_code": ewc, "hazardous": hazardous}


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    earliest = draw(timestamps)
    later = draw(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=60)))
    latest = (earliest + later).astimezone(draw(offsets))
    return {"earliest": earliest, "latest": latest}


@st.composite
def orders(draw: st.DrawFn) -> Order:
    action = draw(st.sampled_from(list(Action)))
    container_id = draw(optional(other_ids) if action is Action.DELIVER else other_ids)
    contact = draw(optional(st.fixed_dictionaries({"name": short_texts, "phone": phones})))
    return Order.model_validate({
        "message_id": draw(safe_ids), "order_id": draw(safe_ids),
        "sequence": draw(st.integers(1, 10**6)), "created_at": draw(timestamps),
        "action": action,
        "customer": {"customer_id": draw(other_ids), "name": draw(short_texts)},
        "site": draw(sites()),
        "container": {"type_code": draw(type_codes), "container_id": container_id,
                      "quantity": draw(st.integers(1, 99)), "fraction": draw(fractions())},
        "window": draw(windows()), "contact": contact, "notes": draw(optional(free_texts)),
    })


@st.composite
def acks(draw: st.DrawFn) -> Acknowledgement:
    return Acknowledgement.model_validate({
        "message_id": draw(safe_ids), "ref_message_id": draw(safe_ids),
        "order_id": draw(safe_ids), "status": draw(st.sampled_from(["accepted", "rejected"])),
        "reason_code": draw(optional(other_ids)), "reason_text": draw(optional(free_texts)),
        "partner_reference": draw(optional(other_ids)), "planned_date": draw(optional(st.dates())),
        "created_at": draw(timestamps),
    })


weighings = st.fixed_dictionaries({"fraction_code": short_texts, "kg": kilograms})


@st.composite
def results(draw: st.DrawFn) -> OrderResult:
    return OrderResult.model_validate({
        "message_id": draw(safe_ids), "order_id": draw(safe_ids),
        "partner_reference": draw(optional(other_ids)),
        "outcome": draw(st.sampled_from(["completed", "not_completed"])),
        "completed_at": draw(timestamps),
        "deviation_code": draw(optional(other_ids)),
        "deviation_text": draw(optional(free_texts)),
        "weighings": draw(optional(st.lists(weighings, min_size=1, max_size=4))),
        "container_ids": draw(optional(st.lists(other_ids, min_size=1, max_size=4))),
    })


documents = st.one_of(orders(), acks(), results())
