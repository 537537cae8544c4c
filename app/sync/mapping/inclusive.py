"""Tax-inclusive documents in the form QBO stores them: per-line back-out of tax from the gross.

Rules read off 49 real invoices of an Australian company (GST 10 %, TaxInclusive), kept in
tests/conformance/samples/au-tax-inclusive-invoices.json, and reproduced to the cent for every
one of them by tests/conformance/test_service_money_rules.py (qbo-api.md correction 2):

* a line's gross is `SalesItemLineDetail.TaxInclusiveAmt`; its `Amount` is the NET, backed out
  per line: round_half_up(gross x 100 / (100 + rate)). The gross is the primary figure: on 5 of
  the 114 real lines gross != round(net x 1.1) (87.50 -> 79.55, and 79.55 x 1.1 = 87.51);
* `UnitPrice` is net / Qty rounded half-up to 7 places (92.5633333 = 277.69 / 3);
* the subtotal line and each tax line's `NetAmountTaxable` are sums of net amounts;
* `TotalAmt` = sum of gross; `TotalTax` = sum of gross - sum of net. Backing tax out of the total
  instead gives a different tax on 5 of the 49 invoices.

So the total of a tax-inclusive document is the sum of what is sent as `TaxInclusiveAmt`,
exactly: no rounding per tax code can move it (unlike a tax-exclusive document, `regional`).
How a multi-rate code splits the tax between its rates is not in the data (one rate only); it
does not change TotalAmt or TotalTax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.sync.mapping.money import (
    HUNDRED,
    MAX_UNIT_PRICE_PLACES,
    ZERO,
    check_places,
    round_money,
    round_places,
)


def back_out(gross: Decimal, rate: Decimal, currency: str) -> Decimal:
    """A line's net amount as QBO stores it: the gross less its tax, rounded per line."""
    return round_money(gross * HUNDRED / (HUNDRED + rate), currency)


def _trimmed(value: Decimal) -> Decimal:
    # 24.6000000 -> 24.6 (QBO returns the shortest form); 100.0000000 -> 100, not 1E+2.
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def net_unit_price(net: Decimal, qty: Decimal, currency: str) -> Decimal | None:
    """QBO's stored UnitPrice: net / Qty at 7 places; None if Qty x price misses the net.

    A miss needs a quantity in the hundreds of thousands (the price's rounding error times Qty
    reaching half a cent); the caller then sends the line as 1 x net.
    """
    if qty <= 0:
        return ZERO if net == 0 else None
    price = _trimmed(round_places(net / qty, MAX_UNIT_PRICE_PLACES))
    if round_places(qty * price, check_places(currency)) != net:
        return None
    return price


@dataclass(frozen=True)
class InclusivePrediction:
    """QBO's totals for a tax-inclusive document, from its lines' gross amounts and rates."""

    nets: list[Decimal]
    subtotal: Decimal  # the subtotal line: sum of nets
    tax: Decimal  # TxnTaxDetail.TotalTax
    total: Decimal  # TotalAmt
    taxable: dict[str, Decimal]  # per tax code id: NetAmountTaxable (sum of its lines' nets)


def predict_inclusive(
    grosses: Sequence[Decimal],
    rates: Sequence[Decimal],
    code_ids: Sequence[str],
    currency: str,
) -> InclusivePrediction:
    """What QBO stores for lines of these gross amounts at these codes' rates."""
    nets = [back_out(g, r, currency) for g, r in zip(grosses, rates, strict=True)]
    taxable: dict[str, Decimal] = {}
    for net, code_id in zip(nets, code_ids, strict=True):
        taxable[code_id] = taxable.get(code_id, ZERO) + net
    subtotal, total = sum(nets, ZERO), sum(grosses, ZERO)
    return InclusivePrediction(nets, subtotal, total - subtotal, total, taxable)
