"""A company's sales tax codes as the mapping uses them (read from QBO TaxCode and TaxRate)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CompanyTaxCode:
    """A QBO TaxCode usable on sales, with its combined sales rate in percent.

    ``rates`` are the component rates (e.g. GST 5 and QST 9.975 for a 14.975 code); QBO rounds
    each component separately, so totals can only be predicted with them. Empty means one rate.
    """

    id: str
    name: str
    rate: Decimal
    rates: tuple[Decimal, ...] = ()

    @property
    def components(self) -> tuple[Decimal, ...]:
        return self.rates or (self.rate,)
