"""Sales-form money rules, pure and Decimal-only: line checks, discounts, tax and totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qbo_emulator import faults
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.money_types import (
    HUNDRED,
    MINOR_UNITS,
    ZERO,
    TaxCodeInfo,
    TaxContext,
    ref_value,
    round_money,
    share,
    tax_line,
)
from qbo_emulator.tax_inclusive import InclusiveLine, inclusive_line, inclusive_tax

__all__ = ["MINOR_UNITS", "TaxCodeInfo", "TaxContext", "Totals", "compute", "round_money"]
GLOBAL_CALCULATIONS = ("TaxExcluded", "TaxInclusive", "NotApplicable")


@dataclass
class Totals:
    lines: list[JSON]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    tax_detail: JSON


def _sales_line(line: JSON, currency: str) -> Decimal:
    """Check Amount against Qty x UnitPrice (6070) and fill Amount when absent."""
    detail = line.get("SalesItemLineDetail")
    detail = detail if isinstance(detail, dict) else {}
    qty, price = to_decimal(detail.get("Qty")), to_decimal(detail.get("UnitPrice"))
    amount = to_decimal(line.get("Amount"))
    if amount is None:
        if qty is None or price is None:
            raise faults.required("Line.Amount")
        amount = round_money(qty * price, currency)
    elif (
        qty is not None
        and price is not None
        and round_money(qty * price, currency) != round_money(amount, currency)
    ):
        raise faults.amount_mismatch()
    amount = round_money(amount, currency)
    line["Amount"] = amount
    line["SalesItemLineDetail"] = detail
    return amount


def _discount_amount(line: JSON, subtotal: Decimal, currency: str) -> Decimal:
    detail = line.get("DiscountLineDetail")
    detail = detail if isinstance(detail, dict) else {}
    if detail.get("PercentBased") is True:
        percent = to_decimal(detail.get("DiscountPercent")) or ZERO
        amount = round_money(subtotal * percent / HUNDRED, currency)
    else:
        amount = round_money(to_decimal(line.get("Amount")) or ZERO, currency)
    line["Amount"] = amount
    return amount


def _us_tax(
    sales: list[JSON], ctx: TaxContext, discount: Decimal, subtotal: Decimal, opts: JSON
) -> tuple[Decimal, JSON]:
    taxable = [
        line["Amount"]
        for line in sales
        if (ref_value(line.get("SalesItemLineDetail", {}).get("TaxCodeRef")) or "").upper() == "TAX"
    ]
    base = sum(taxable, ZERO)
    if opts.get("apply_tax_after_discount"):
        base -= share(base, subtotal, discount, ctx.currency)
    override = opts.get("tax_override")
    if override is None and not taxable:
        return ZERO, {"TotalTax": ZERO}
    # AST honours an explicit TotalTax and prorates it over its rates (one rate here).
    tax = round_money(
        override if override is not None else base * ctx.us_rate / HUNDRED, ctx.currency
    )
    detail: JSON = {
        "TxnTaxCodeRef": {"value": ctx.us_code_id},
        "TotalTax": tax,
        "TaxLine": [tax_line(ctx.us_rate_id, ctx.us_rate, tax, base)],
    }
    return tax, detail


def _code_of(line: JSON, ctx: TaxContext) -> str:
    code = ref_value(line.get("SalesItemLineDetail", {}).get("TaxCodeRef"))
    if code is None:
        raise faults.business("Make sure all your transactions have a tax rate before you save.")
    if code not in ctx.codes:
        raise faults.invalid_reference("TaxCodeRef", code)
    return code


def _group_by_code(sales: list[JSON], ctx: TaxContext) -> dict[str, Decimal]:
    groups: dict[str, Decimal] = {}
    for line in sales:
        code = _code_of(line, ctx)
        groups[code] = groups.get(code, ZERO) + line["Amount"]
    return groups


def _excluded_tax(
    sales: list[JSON], ctx: TaxContext, discount: Decimal, subtotal: Decimal
) -> tuple[Decimal, list[JSON]]:
    """Tax-exclusive: per code, tax = round(rate x (code's net - its share of the discount)).

    Checked on a real AU sandbox company's tax-exclusive invoices (10 %, 12 %, 15 %, 0 % codes;
    tests/conformance/test_au_sandbox_invoices.py). Discount sharing by net: no real sample has
    a discount line; the rule is kept from before.
    """
    tax_lines: list[JSON] = []
    total = ZERO
    for code, amount in _group_by_code(sales, ctx).items():
        net = amount - share(amount, subtotal, discount, ctx.currency)
        for rid, pct in ctx.codes[code].rates:
            tax = round_money(net * pct / HUNDRED, ctx.currency)
            tax_lines.append(tax_line(rid, pct, tax, net))
            total += tax
    return total, tax_lines


def _inclusive_lines(sales: list[JSON], ctx: TaxContext) -> list[InclusiveLine]:
    out = []
    for line in sales:
        code = _code_of(line, ctx)
        taxes = inclusive_line(line, ctx.codes[code], ctx.currency)
        out.append(InclusiveLine(code, line["Amount"], taxes))
    return out


@dataclass(frozen=True)
class _Doc:
    sales: list[JSON]
    discounts: list[JSON]
    calc: str
    inclusive: list[InclusiveLine] | None


def _sales_lines(sales: list[JSON], ctx: TaxContext, calc: str) -> list[InclusiveLine] | None:
    if not ctx.us and calc == "TaxInclusive":
        return _inclusive_lines(sales, ctx)
    for line in sales:
        _sales_line(line, ctx.currency)
    return None


def _tax(
    doc: _Doc, ctx: TaxContext, discount: Decimal, subtotal: Decimal, opts: JSON
) -> tuple[Decimal, JSON]:
    if ctx.us:
        return _us_tax(doc.sales, ctx, discount, subtotal, opts)
    if doc.calc == "NotApplicable":
        return ZERO, {"TotalTax": ZERO}
    if doc.inclusive is not None:
        total, tax_lines = inclusive_tax(doc.inclusive, ctx.codes, discount, ctx.currency)
    else:
        total, tax_lines = _excluded_tax(doc.sales, ctx, discount, subtotal)
    # No TxnTaxCodeRef outside the US: none of the real AU invoices (tax-inclusive or
    # -exclusive) in tests/conformance/samples carries one.
    return total, {"TotalTax": total, "TaxLine": tax_lines}


def compute(lines: list[JSON], ctx: TaxContext, opts: JSON) -> Totals:
    """Normalise lines and compute totals.

    opts: tax_override (Decimal|None), global_calc (str|None), apply_tax_after_discount (bool).
    TotalAmt = subtotal - discount + tax for every kind; for a tax-inclusive document the
    subtotal is the sum of NET amounts, so without a discount TotalAmt = sum of the grosses.
    """
    body: list[JSON] = []
    discounts: list[JSON] = []
    for line in lines:
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            continue  # QBO computes this line itself
        (discounts if kind == "DiscountLineDetail" else body).append(line)
    sales = [line for line in body if line.get("DetailType") == "SalesItemLineDetail"]
    if not sales and not body:
        raise faults.required("Line")
    calc = opts.get("global_calc") or "TaxExcluded"
    if not ctx.us and calc not in GLOBAL_CALCULATIONS:
        raise faults.business(f"GlobalTaxCalculation {calc} is not valid.")
    doc = _Doc(sales, discounts, calc, _sales_lines(sales, ctx, calc))
    subtotal = sum((line["Amount"] for line in sales), ZERO)
    discount = sum((_discount_amount(line, subtotal, ctx.currency) for line in discounts), ZERO)
    tax, detail = _tax(doc, ctx, discount, subtotal, opts)
    total = subtotal - discount + tax
    subtotal_line: JSON = {"DetailType": "SubTotalLineDetail", "Amount": subtotal}
    subtotal_line["SubTotalLineDetail"] = {}
    _number(body + discounts)
    return Totals([*body, subtotal_line, *discounts], subtotal, discount, tax, total, detail)


def _number(lines: list[JSON]) -> None:
    for index, line in enumerate(lines, start=1):
        line["Id"] = str(index)
        if line.get("DetailType") != "DiscountLineDetail":
            line["LineNum"] = index
