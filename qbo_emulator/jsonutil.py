"""JSON in and out: Decimals inside, JSON numbers on the wire (as QBO sends them)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

JSON = dict[str, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Integral amounts go out as integers, others as the shortest float that round-trips,
        # which for two-decimal money is exactly the decimal text.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def to_decimal(value: Any) -> Decimal | None:
    """Clients send numbers, numeric strings or "" for "not set"."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
