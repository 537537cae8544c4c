"""Shared pieces of the sales-form money rules: rounding, tax-code shapes, tax-line JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbo_emulator.jsonutil import JSON

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3}
# Real tax-inclusive lines carry UnitPrice = net / Qty to 7 places (92.5633333 = 277.69 / 3 in
# tests/conformance/samples/au-tax-inclusive-invoices.json; 0.9090889 = 409.09 / 450 in
# tests/conformance/samples/au-sandbox-invoices.json).
UNIT_PRICE_PLACES = Decimal("0.0000001")


def round_money(value: Decimal, currency: str) -> Decimal:
    """QBO rounds half-up at the currency's minor unit (cents for most)."""
    return value.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), ROUND_HALF_UP)


def round_unit_price(value: Decimal) -> Decimal:
    return value.quantize(UNIT_PRICE_PLACES, ROUND_HALF_UP).normalize()


@dataclass(frozen=True)
class TaxCodeInfo:
    code_id: str
    rates: tuple[tuple[str, Decimal], ...]  # (TaxRate Id, percent)

    @property
    def percent(self) -> Decimal:
        return sum((pct for _, pct in self.rates), ZERO)


@dataclass
class TaxContext:
    """What a company contributes to the calculation."""

    currency: str
    us: bool
    us_rate: Decimal = ZERO
    us_code_id: str = ""
    us_rate_id: str = ""
    codes: dict[str, TaxCodeInfo] = field(default_factory=dict)


def ref_value(ref: Any) -> str | None:
    if isinstance(ref, dict) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


def tax_line(rate_id: str, percent: Decimal, tax: Decimal, net: Decimal) -> JSON:
    return {
        "DetailType": "TaxLineDetail",
        "Amount": tax,
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate_id},
            "PercentBased": True,
            "TaxPercent": percent,
            "NetAmountTaxable": net,
        },
    }


def share(part: Decimal, whole: Decimal, amount: Decimal, currency: str) -> Decimal:
    """`amount` prorated by part / whole, to the minor unit."""
    if whole == ZERO:
        return ZERO
    return round_money(amount * part / whole, currency)
