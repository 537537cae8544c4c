"""Money arithmetic for document mapping: Decimal only, half-up at the currency's minor unit.

Amounts are handled as whole minor units (``int``) wherever residue is distributed, so no
rounding step can lose or invent a cent. `MappingError` lives here too, at the bottom of the
mapping modules, so that each of them can raise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from app.errors import PermanentError

ZERO = Decimal(0)
HUNDRED = Decimal(100)

# ISO 4217 exponents that differ from 2. Anything not listed has cents.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
            "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip


class MappingError(PermanentError):
    """A document whose lines, taxes or discount cannot be mapped to QBO as they are.

    The message names the cause and the action a person should take. Defined here, below
    `us`, `regional` and `documents`, so every mapping module can raise it.
    """


# QBO keeps a line's Rate/UnitPrice to 7 decimal places and its Amount to the minor unit
# (Intuit's community answers; qbo-api.md is silent, the emulator takes any precision).
MAX_UNIT_PRICE_PLACES = 7


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit: JPY 0, USD 2, BHD 3."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def round_money(value: Decimal, currency: str) -> Decimal:
    """Half-up at the minor unit, as QBO rounds line amounts (qbo-api.md §10 pitfall 7)."""
    return round_places(value, minor_unit(currency))


def is_on_grid(value: Decimal, currency: str) -> bool:
    """True when the amount needs no more places than the currency has."""
    return round_money(value, currency) == value


def to_units(value: Decimal, currency: str) -> int:
    """Exact count of minor units; the value must already be rounded to the currency."""
    units = value.scaleb(minor_unit(currency))
    if units != units.to_integral_value():
        raise ValueError(f"{value} has more places than {currency} allows")
    return int(units)


def from_units(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-minor_unit(currency))


def apportion(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Split ``total`` units in proportion to ``weights`` (largest remainder method).

    Each share is the floor of its exact quota; the units left over go one each to the largest
    remainders, ties to the earlier position, so the result is deterministic and sums to
    ``total`` exactly. A negative total is split like its absolute value, then negated.
    """
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    whole = sum(weights, ZERO)
    if total == 0:
        return [0] * len(weights)
    if whole == 0:
        raise ValueError("cannot apportion a non-zero total over zero weights")
    sign, size = (1, total) if total > 0 else (-1, -total)
    quotas = [Decimal(size) * weight / whole for weight in weights]
    shares = [int(quota.to_integral_value(ROUND_FLOOR)) for quota in quotas]
    order = sorted(range(len(weights)), key=lambda i: (shares[i] - quotas[i], i))
    for index in order[: size - sum(shares)]:
        shares[index] += 1
    return [sign * share for share in shares]


def check_places(currency: str) -> int:
    """Places at which Qty x UnitPrice must round to Amount.

    QBO documents the check "to cents"; the emulator uses the company's home currency. Checking
    at no fewer than 2 places satisfies both for zero-decimal currencies (an amount that is
    right to the cent is right to the yen), and 3-decimal currencies need their own places.
    """
    return max(2, minor_unit(currency))


def unit_price_for(amount: Decimal, qty: Decimal, currency: str) -> Decimal | None:
    """The unit price with the fewest places (at most 7) for which Qty x price rounds to amount.

    Among prices with that many places the one nearest amount / qty wins (the lower on a tie).
    None when no such price exists (huge quantities, or a zero quantity with a non-zero amount).
    """
    if qty <= 0:
        return ZERO if amount == 0 else None
    places = check_places(currency)
    ideal = amount / qty
    for decimals in range(minor_unit(currency), MAX_UNIT_PRICE_PLACES + 1):
        step = Decimal(1).scaleb(-decimals)
        low = ideal.quantize(step, ROUND_FLOOR)
        high = ideal.quantize(step, ROUND_CEILING)
        fits = [p for p in (low, high) if round_places(qty * p, places) == amount]
        if fits:
            return min(fits, key=lambda p: (abs(p - ideal), p))
    return None


def totals_match(expected: Decimal, qbo_total: Decimal) -> bool:
    """Post-write check: QBO's TotalAmt equals the CRM total exactly (1.5 == 1.50)."""
    if not isinstance(expected, Decimal) or not isinstance(qbo_total, Decimal):
        raise TypeError("totals must be Decimal, never float")
    return expected == qbo_total


def plain(value: Decimal) -> str:
    """Fixed-point text without trailing zeros after the point: 7.500 -> 7.5, 20.0 -> 20."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def show_money(value: Decimal, currency: str) -> str:
    """An amount as a person reads it: 1234.5 USD -> 1234.50."""
    return format(round_money(value, currency), "f")
