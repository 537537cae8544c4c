"""US folding arithmetic: spread the document discount and the CRM's tax over the lines.

US companies run Automated Sales Tax, which ignores the tax codes an app sends and would add
its own tax (qbo-api.md §6.6, §10 pitfall 8). So the CRM's discount and exclusive taxes go into
the line amounts and the document carries neither; the lines then add up to the CRM total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.sync.mapping.money import HUNDRED, apportion, from_units, to_units


@dataclass(frozen=True)
class Fold:
    """One line's amount and how it was reached: ``net - discount + tax == amount``."""

    net: Decimal
    discount: Decimal
    tax: Decimal
    amount: Decimal


def fold(
    nets: Sequence[Decimal],
    exclusive_rates: Sequence[Decimal],
    discount: Decimal,
    total: Decimal,
    currency: str,
) -> list[Fold]:
    """Line amounts that sum to ``total`` exactly.

    The discount is shared in proportion to the line amounts; what remains up to the total (the
    CRM's exclusive tax, with whatever its own rounding did) is shared in proportion to each
    line's exact tax, or to the discounted amounts when no line has an exclusive tax. Both
    shares use the largest remainder method, ties to the earlier line. Inclusive taxes are
    already inside the prices and need nothing. Raises ValueError if the total cannot be placed
    (nothing left to carry it); callers check the document first.
    """
    net_units = [to_units(net, currency) for net in nets]
    discount_units = apportion(to_units(discount, currency), [Decimal(n) for n in net_units])
    kept = [net - taken for net, taken in zip(net_units, discount_units, strict=True)]
    extra = to_units(total, currency) - sum(kept)
    weights = [Decimal(k) * rate / HUNDRED for k, rate in zip(kept, exclusive_rates, strict=True)]
    if not any(weights):
        weights = [Decimal(k) for k in kept]
    tax_units = apportion(extra, weights)
    return [
        Fold(
            net=from_units(net, currency),
            discount=from_units(taken, currency),
            tax=from_units(tax, currency),
            amount=from_units(net - taken + tax, currency),
        )
        for net, taken, tax in zip(net_units, discount_units, tax_units, strict=True)
    ]
