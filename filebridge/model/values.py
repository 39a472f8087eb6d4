"""Constrained value types shared by the three documents.

Each type mirrors one simple type in ``schemas/*.xsd`` so that the pydantic model and the
published schema refuse the same values. Where XSD 1.0 cannot say a rule (a field that
depends on another), the model is the stricter of the two and says so in its docstring.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

# OrderId and MessageId end up in file names: a safe alphabet, never a leading dot.
SAFE_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"
# "Printable": no C0/C1 control characters (XSD: [^\p{Cc}]), and not U+FFFE/U+FFFF,
# which XML 1.0 cannot carry at all (so no XML file could hold such a value).
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\uFFFE\uFFFF]+$"
# Free text may hold line breaks and tabs, but no other control characters.
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\uFFFE\uFFFF]*$"
EWC_CODE_PATTERN = r"^[0-9]{2} [0-9]{2} [0-9]{2}\*?$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()./-]{2,31}$"
POSTAL_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$"
TYPE_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"

SafeId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN)]
"""OrderId / MessageId: 1-64 of ``A-Z a-z 0-9 . _ -``, not starting with ``.``."""

OtherId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]
"""Any other id (customer, site, container, partner reference): 1-64 printable characters."""

ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE_PATTERN)
]
"""Names, streets, cities, codes: 1-200 printable characters on one line."""

FreeText = Annotated[
    str, StringConstraints(min_length=1, max_length=1000, pattern=FREE_TEXT_PATTERN)
]
"""Notes, reason and deviation texts: 1-1000 characters, line breaks allowed.

Never empty: a CSV cell cannot tell an empty text from a missing one, so "no text"
is always spelled by leaving the field out (``None``), in both formats.
"""

EwcCode = Annotated[str, StringConstraints(pattern=EWC_CODE_PATTERN)]
"""European Waste Catalogue code ``NN NN NN``; a trailing ``*`` marks hazardous waste."""

Phone = Annotated[str, StringConstraints(pattern=PHONE_PATTERN)]
PostalCode = Annotated[str, StringConstraints(pattern=POSTAL_CODE_PATTERN)]
TypeCode = Annotated[str, StringConstraints(pattern=TYPE_CODE_PATTERN)]

Quantity = Annotated[int, Field(ge=1, le=99)]
Kilograms = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3)]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=10, decimal_places=7)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=10, decimal_places=7)]

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def _known_country(code: str) -> str:
    if code not in ISO_COUNTRY_CODES:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_known_country)
]


class Action(StrEnum):
    """What the partner is asked to do with the container."""

    DELIVER = "deliver"
    EMPTY = "empty"
    RETRIEVE = "retrieve"
    SWAP = "swap"


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Outcome(StrEnum):
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"
