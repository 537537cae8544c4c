"""Sales-form money rules, pure and Decimal-only: line checks, discounts, tax and totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbo_emulator import faults
from qbo_emulator.jsonutil import JSON, to_decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3}
GLOBAL_CALCULATIONS = ("TaxExcluded", "TaxInclusive", "NotApplicable")


def round_money(value: Decimal, currency: str) -> Decimal:
    """QBO rounds half-up at the currency's minor unit (cents for most)."""
    return value.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxCodeInfo:
    code_id: str
    rates: tuple[tuple[str, Decimal], ...]  # (TaxRate Id, percent)


@dataclass
class TaxContext:
    """What a company contributes to the calculation."""

    currency: str
    us: bool
    us_rate: Decimal = ZERO
    us_code_id: str = ""
    us_rate_id: str = ""
    codes: dict[str, TaxCodeInfo] = field(default_factory=dict)


@dataclass
class Totals:
    lines: list[JSON]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    tax_detail: JSON


def _ref_value(ref: Any) -> str | None:
    if isinstance(ref, dict) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


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


def _share(part: Decimal, whole: Decimal, amount: Decimal, currency: str) -> Decimal:
    if whole == ZERO:
        return ZERO
    return round_money(amount * part / whole, currency)


def _tax_line(rate_id: str, percent: Decimal, tax: Decimal, net: Decimal) -> JSON:
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


def _us_tax(
    sales: list[JSON], ctx: TaxContext, discount: Decimal, subtotal: Decimal, opts: JSON
) -> tuple[Decimal, JSON]:
    taxable = [
        line["Amount"]
        for line in sales
        if (_ref_value(line.get("SalesItemLineDetail", {}).get("TaxCodeRef")) or "").upper()
        == "TAX"
    ]
    base = sum(taxable, ZERO)
    if opts.get("apply_tax_after_discount"):
        base -= _share(base, subtotal, discount, ctx.currency)
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
        "TaxLine": [_tax_line(ctx.us_rate_id, ctx.us_rate, tax, base)],
    }
    return tax, detail


def _group_by_code(sales: list[JSON], ctx: TaxContext) -> dict[str, Decimal]:
    groups: dict[str, Decimal] = {}
    for line in sales:
        code = _ref_value(line.get("SalesItemLineDetail", {}).get("TaxCodeRef"))
        if code is None:
            raise faults.business(
                "Make sure all your transactions have a tax rate before you save."
            )
        if code not in ctx.codes:
            raise faults.invalid_reference("TaxCodeRef", code)
        groups[code] = groups.get(code, ZERO) + line["Amount"]
    return groups


def _code_tax(
    info: TaxCodeInfo, gross: Decimal, inclusive: bool, currency: str
) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """Per rate: (rate id, percent, tax, net taxable)."""
    total_pct = sum((pct for _, pct in info.rates), ZERO)
    net = round_money(gross * HUNDRED / (HUNDRED + total_pct), currency) if inclusive else gross
    out = [(rid, pct, round_money(net * pct / HUNDRED, currency), net) for rid, pct in info.rates]
    if inclusive and out:
        # Backing tax out of a gross price: the rates together must account for gross - net.
        rid, pct, _, _ = out[-1]
        rest = sum((t for _, _, t, _ in out[:-1]), ZERO)
        out[-1] = (rid, pct, gross - net - rest, net)
    return out


def _non_us_tax(
    sales: list[JSON], ctx: TaxContext, discount: Decimal, subtotal: Decimal, calc: str
) -> tuple[Decimal, JSON]:
    if calc == "NotApplicable":
        return ZERO, {"TotalTax": ZERO}
    groups = _group_by_code(sales, ctx)
    tax_lines: list[JSON] = []
    total = ZERO
    for code, amount in groups.items():
        gross = amount - _share(amount, subtotal, discount, ctx.currency)
        for rid, pct, tax, net in _code_tax(
            ctx.codes[code], gross, calc == "TaxInclusive", ctx.currency
        ):
            tax_lines.append(_tax_line(rid, pct, tax, net))
            total += tax
    detail: JSON = {"TotalTax": total, "TaxLine": tax_lines}
    if len(groups) == 1:
        detail = {"TxnTaxCodeRef": {"value": next(iter(groups))}, **detail}
    return total, detail


def compute(lines: list[JSON], ctx: TaxContext, opts: JSON) -> Totals:
    """Normalise lines and compute totals.

    opts: tax_override (Decimal|None), global_calc (str|None), apply_tax_after_discount (bool).
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
    subtotal = sum((_sales_line(line, ctx.currency) for line in sales), ZERO)
    discount = sum((_discount_amount(line, subtotal, ctx.currency) for line in discounts), ZERO)
    calc = opts.get("global_calc") or "TaxExcluded"
    if not ctx.us and calc not in GLOBAL_CALCULATIONS:
        raise faults.business(f"GlobalTaxCalculation {calc} is not valid.")
    if ctx.us:
        tax, detail = _us_tax(sales, ctx, discount, subtotal, opts)
    else:
        tax, detail = _non_us_tax(sales, ctx, discount, subtotal, calc)
    inclusive = not ctx.us and calc == "TaxInclusive"
    total = subtotal - discount + (ZERO if inclusive else tax)
    subtotal_line: JSON = {"DetailType": "SubTotalLineDetail", "Amount": subtotal}
    subtotal_line["SubTotalLineDetail"] = {}
    _number(body + discounts)
    return Totals([*body, subtotal_line, *discounts], subtotal, discount, tax, total, detail)


def _number(lines: list[JSON]) -> None:
    for index, line in enumerate(lines, start=1):
        line["Id"] = str(index)
        if line.get("DetailType") != "DiscountLineDetail":
            line["LineNum"] = index
