"""Tax-inclusive sales forms (GlobalTaxCalculation TaxInclusive), in the form QBO stores them.

Derived from real QBO data and checked line by line in tests/conformance/test_au_tax_inclusive.py
(samples/au-tax-inclusive-invoices.json: 49 invoices, 114 lines of a real Australian company;
samples/au-sandbox-invoices.json: an Australian sandbox company's invoices):

* a line's `Amount` is NET of tax, its gross is `SalesItemLineDetail.TaxInclusiveAmt`, and
  net = round_half_up(gross x 100 / (100 + rate)) on every real line;
* `UnitPrice` = net / Qty to 7 places;
* the line's tax is gross - net; a tax line per rate has Amount = the sum of its lines' taxes and
  NetAmountTaxable = the sum of their nets (so TotalTax = sum(gross) - sum(net), NOT
  round(rate x sum(net)): invoice 2506 of the AU sample has 436.34, 10 % of the net is 436.36);
* the subtotal line is the sum of nets and TotalAmt the sum of grosses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from qbo_emulator import faults
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.money_types import (
    HUNDRED,
    ZERO,
    TaxCodeInfo,
    round_money,
    round_unit_price,
    share,
    tax_line,
)


@dataclass
class RateTotals:
    """Per TaxRate: percent, tax and net taxable, in first-seen order."""

    percent: dict[str, Decimal] = field(default_factory=dict)
    tax: dict[str, Decimal] = field(default_factory=dict)
    net: dict[str, Decimal] = field(default_factory=dict)

    def add(self, rate_id: str, percent: Decimal, tax: Decimal, net: Decimal) -> None:
        self.percent.setdefault(rate_id, percent)
        self.tax[rate_id] = self.tax.get(rate_id, ZERO) + tax
        self.net[rate_id] = self.net.get(rate_id, ZERO) + net


def _net_of(line: JSON, detail: JSON, gross: Decimal | None, pct: Decimal, cur: str) -> Decimal:
    qty, price = to_decimal(detail.get("Qty")), to_decimal(detail.get("UnitPrice"))
    amount = to_decimal(line.get("Amount"))
    if amount is None and gross is not None:
        amount = round_money(gross * HUNDRED / (HUNDRED + pct), cur)
    if amount is None:
        if qty is None or price is None:
            raise faults.required("Line.Amount")
        amount = qty * price
    net = round_money(amount, cur)
    if qty is not None and price is not None and round_money(qty * price, cur) != net:
        raise faults.amount_mismatch()
    if price is None and qty not in (None, ZERO):
        assert qty is not None
        detail["UnitPrice"] = round_unit_price(net / qty)
    return net


def _rate_taxes(
    info: TaxCodeInfo, net: Decimal, gross: Decimal, cur: str
) -> list[tuple[str, Decimal, Decimal]]:
    """Split the line's gross - net over the code's rates.

    One rate (every real sample): all of it. Several rates (e.g. a combined GST+PST code): each
    rate but the last at round(net x rate), the last takes the rest; how QBO splits is UNKNOWN
    (verify-qbo "tax-inclusive line on a multi-rate tax code").
    """
    out = [(rid, pct, round_money(net * pct / HUNDRED, cur)) for rid, pct in info.rates]
    if out:
        rid, pct, _ = out[-1]
        rest = sum((t for _, _, t in out[:-1]), ZERO)
        out[-1] = (rid, pct, gross - net - rest)
    return out


def inclusive_line(line: JSON, info: TaxCodeInfo, cur: str) -> list[tuple[str, Decimal, Decimal]]:
    """Normalise one sales line to QBO's stored form; returns (rate id, percent, tax) per rate.

    With TaxInclusiveAmt and Amount both sent, both are kept as sent even if they disagree with
    the rate: what QBO does then is UNKNOWN (verify-qbo "tax-inclusive line whose Amount
    disagrees with TaxInclusiveAmt"). Without TaxInclusiveAmt, Amount is taken as NET and the
    gross computed = net + tax: a third-party report (ruckus/quickbooks-ruby issue #346) says QBO
    then treats the price as tax-exclusive; UNKNOWN (verify-qbo "tax-inclusive input without
    TaxInclusiveAmt").
    """
    detail = line.get("SalesItemLineDetail")
    detail = detail if isinstance(detail, dict) else {}
    line["SalesItemLineDetail"] = detail
    sent_gross = to_decimal(detail.get("TaxInclusiveAmt"))
    gross = round_money(sent_gross, cur) if sent_gross is not None else None
    net = _net_of(line, detail, gross, info.percent, cur)
    if gross is None:
        gross = net + sum((round_money(net * p / HUNDRED, cur) for _, p in info.rates), ZERO)
    line["Amount"] = net
    detail["TaxInclusiveAmt"] = gross
    return _rate_taxes(info, net, gross, cur)


@dataclass(frozen=True)
class InclusiveLine:
    code: str
    net: Decimal
    rate_taxes: list[tuple[str, Decimal, Decimal]]


def inclusive_tax(
    lines: list[InclusiveLine], codes: dict[str, TaxCodeInfo], discount: Decimal, cur: str
) -> tuple[Decimal, list[JSON]]:
    """TotalTax and tax lines of a tax-inclusive document from its normalised lines."""
    totals = RateTotals()
    code_net: dict[str, Decimal] = {}
    for line in lines:
        code_net[line.code] = code_net.get(line.code, ZERO) + line.net
        for rid, pct, tax in line.rate_taxes:
            totals.add(rid, pct, tax, line.net)
    if discount:
        _apply_discount(totals, codes, code_net, discount, cur)
    tax_lines = [
        tax_line(rid, totals.percent[rid], totals.tax[rid], totals.net[rid]) for rid in totals.tax
    ]
    return sum(totals.tax.values(), ZERO), tax_lines


def _apply_discount(
    totals: RateTotals,
    codes: dict[str, TaxCodeInfo],
    code_net: dict[str, Decimal],
    discount: Decimal,
    cur: str,
) -> None:
    """A discount on a tax-inclusive document: no real sample has one, so this is UNKNOWN
    (verify-qbo "tax-inclusive document with a discount line"). Modelled like the tax-exclusive
    rule: the discount (in the lines' net terms) is shared over the codes by net, and each rate
    loses round(share x rate) of tax."""
    subtotal = sum(code_net.values(), ZERO)
    for code, net in code_net.items():
        part = share(net, subtotal, discount, cur)
        for rid, pct in codes[code].rates:
            totals.net[rid] -= part
            totals.tax[rid] -= round_money(part * pct / HUNDRED, cur)
