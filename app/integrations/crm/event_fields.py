"""Scalar field types for CRM events: exact money, strict dates and zoned timestamps.

Validators run in pydantic's Python mode on data that ``json.loads(..., parse_float=Decimal)``
produced, so JSON numbers arrive here as ``Decimal`` (or ``int``) and never pass through float.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, StringConstraints
from pydantic_core import PydanticCustomError

from app.text_rules import CONTROL_MESSAGE, LITERAL_PATTERN, TEXT_PATTERN, has_control

# Anything above this is a typo or an attack, never a real invoice.
MAX_AMOUNT = Decimal("1000000000000")

_DECIMAL_TEXT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RFC3339_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]{1,9}))?(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _to_decimal(value: Any) -> Decimal:
    # bool is an int subclass; `true` must not become 1.
    if isinstance(value, bool):
        raise PydanticCustomError(
            "decimal_type", "must be a decimal string or number, not a boolean"
        )
    if isinstance(value, float):
        raise PydanticCustomError(
            "decimal_type", "binary floats are not accepted; send a decimal string"
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        if len(value) > 64 or not _DECIMAL_TEXT_RE.fullmatch(value.strip()):
            raise PydanticCustomError("decimal_parsing", "must be a decimal number like '19.99'")
        number = Decimal(value.strip())
    else:
        raise PydanticCustomError("decimal_type", "must be a decimal string or number")
    if not number.is_finite():
        raise PydanticCustomError("decimal_finite", "must be a finite number")
    return number


def _decimal_places(number: Decimal) -> int:
    # Trailing zeros don't count ("19.90" has two places, "1E+2" none). Computed from the digits
    # rather than normalize(), which would round anything beyond 28 significant digits.
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # only finite numbers reach here
    if exponent >= 0 or not number:
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -exponent - trailing_zeros)


def _decimal_validator(places: int) -> Callable[[Any], Decimal]:
    def validate(value: Any) -> Decimal:
        number = _to_decimal(value)
        # Comparisons are exact; abs() would apply the context and overflow on 1E+999999999.
        if number > MAX_AMOUNT or number < -MAX_AMOUNT:
            raise PydanticCustomError("decimal_range", "must not exceed 1000000000000 in size")
        # No field of the catalogue is negative: discounts and credits have their own fields.
        if number < 0:
            raise PydanticCustomError("decimal_range", "must not be negative")
        # Cheap test first: an exponent within the limit cannot have too many places.
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places and _decimal_places(number) > places:
            raise PydanticCustomError(
                "decimal_places", "must have at most {places} decimal places", {"places": places}
            )
        return number

    return validate


def _decimal_text(number: Decimal) -> str:
    # Fixed-point text, so 1E+2 goes out as "100" and clients never see an exponent.
    return format(number, "f")


def _decimal_field(places: int) -> tuple[BeforeValidator, PlainSerializer]:
    return (
        BeforeValidator(_decimal_validator(places)),
        PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    )


_MONEY = _decimal_field(2)
_FINE = _decimal_field(6)

Money = Annotated[Decimal, _MONEY[0], _MONEY[1]]
"""A non-negative amount, at most 2 decimal places, out as a decimal string in JSON."""
UnitPrice = Annotated[Decimal, _FINE[0], _FINE[1]]
"""Like :data:`Money` but with up to 6 decimal places (per-unit prices are often finer)."""
Quantity = Annotated[Decimal, _FINE[0], _FINE[1]]
Percent = Annotated[Decimal, _FINE[0], _FINE[1]]


def _parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise PydanticCustomError("date_format", "must be a date formatted YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_value", "is not a real calendar date") from None


def _parse_timestamp(value: Any) -> datetime:
    match = _RFC3339_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError(
            "datetime_format", "must be an RFC 3339 timestamp like 2024-05-01T12:30:00Z"
        )
    if match["zone"] is None:
        raise PydanticCustomError(
            "datetime_timezone", "must include a time zone (Z or an offset like +02:00)"
        )
    # Nanosecond precision is legal RFC 3339; datetime holds microseconds, so truncate.
    fraction = (match["frac"] or "").ljust(6, "0")[:6]
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{zone}")
    except ValueError:
        raise PydanticCustomError("datetime_value", "is not a real date and time") from None


StrictDate = Annotated[date, BeforeValidator(_parse_date)]
"""A calendar date, accepted only as ``YYYY-MM-DD`` text."""
Timestamp = Annotated[datetime, BeforeValidator(_parse_timestamp)]
"""A timezone-aware instant, accepted only as RFC 3339 text with a zone."""


def _check_currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value):
        raise PydanticCustomError("currency", "must be an ISO 4217 code like USD (3 capitals)")
    return value


Currency = Annotated[str, BeforeValidator(_check_currency)]
# Checked by pydantic-core's own regex engine: no Python call per string on the intake path.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=LITERAL_PATTERN)
]
# The idempotency key is compared byte for byte, so invisible whitespace would be a trap.
EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x20\x7f]+$")
]
Text = Annotated[str, StringConstraints(max_length=4000, pattern=TEXT_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=500, pattern=TEXT_PATTERN)]


def _check_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    # CRMs send "" for "no email"; that means the same as absent.
    if not value:
        return None
    # An email is a query literal (the customer is matched by it): no control character at all.
    if has_control(value):
        raise PydanticCustomError("control_character", CONTROL_MESSAGE)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(value) > 320:
        raise PydanticCustomError("email", "must be an email address")
    return value


Email = Annotated[str | None, AfterValidator(_check_email)]
"""Loosely checked (must contain ``@``); matching is the sync layer's job, not validation's."""
