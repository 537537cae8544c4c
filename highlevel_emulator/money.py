"""Money as Decimal, half-up to the cent; JSON numbers rendered the way HighLevel shows them."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


class AmountError(ValueError):
    pass


def amount(value: Any) -> Decimal:
    """A JSON number (or numeric string) as Decimal, via its text so 0.1 stays 0.1."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise AmountError(f"not a number: {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise AmountError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise AmountError(f"not a number: {value!r}")
    return result


def cents(value: Decimal) -> Decimal:
    # Two decimals for every currency: HighLevel's docs show USD only; zero-decimal currencies
    # are UNKNOWN (README).
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _plain(value: Any) -> Any:
    # HighLevel's examples carry money as JSON numbers (999, 12.1, 150.1: docs/webhook events).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """A document with Decimals turned into JSON numbers."""
    return _plain(value)


def compact(value: Any) -> bytes:
    """Compact UTF-8 JSON: the bytes `JSON.stringify` of the parsed body gives back (keys.py)."""
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False).encode()
