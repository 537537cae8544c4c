"""Checks of QBO's arithmetic: tax-inclusive input, multi-rate rounding, US AST line taxability."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.integrations.quickbooks.contract import au_sample
from app.integrations.quickbooks.contract.model import Check, Needs, Outcome
from app.integrations.quickbooks.contract.runner import outcome
from app.integrations.quickbooks.contract.session import CheckSession

CENT = Decimal("0.01")


def cents(value: object) -> str:
    """A money value as QBO's JSON gave it (exact Decimal), written with two places."""
    return str(Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)) if value is not None else "-"


def totals_text(invoice: dict[str, Any]) -> str:
    tax = (invoice.get("TxnTaxDetail") or {}).get("TotalTax")
    return f"TotalTax {cents(tax)}, TotalAmt {cents(invoice.get('TotalAmt'))}"


def item_line(item: str, amount: Decimal, code: str, **detail: Any) -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {
            "ItemRef": {"value": item},
            "TaxCodeRef": {"value": code},
            **detail,
        },
    }


async def _au_inclusive(session: CheckSession, *, with_gross: bool) -> dict[str, Any]:
    item, gst = await session.item_id(), await session.tax_code_id("GST")
    lines = [
        item_line(item, net, gst, Qty=qty, UnitPrice=price, TaxInclusiveAmt=gross)
        if with_gross
        else item_line(item, gross, gst)
        for net, gross, qty, price in au_sample.LINES
    ]
    return await session.invoice_ok(lines, GlobalTaxCalculation="TaxInclusive")


async def tax_inclusive_with_gross(session: CheckSession) -> Outcome:
    invoice = await _au_inclusive(session, with_gross=True)
    expected = f"TotalTax {cents(au_sample.TOTAL_TAX)}, TotalAmt {cents(au_sample.TOTAL_AMT)}"
    return outcome(expected, totals_text(invoice), invoice_id=invoice.get("Id"))


def tax_on_top(amounts: list[Decimal]) -> tuple[Decimal, Decimal]:
    """quickbooks-ruby #346: without TaxInclusiveAmt the Amounts are taken as net and GST is
    added; per line, rounded half-up, as the emulator models it (qbo_emulator/tax_inclusive.py:
    the real AU data carry the tax line by line)."""
    tax = sum(
        (
            (amount * au_sample.GST_PERCENT / 100).quantize(CENT, ROUND_HALF_UP)
            for amount in amounts
        ),
        Decimal(0),
    )
    return tax, sum(amounts, Decimal(0)) + tax


async def tax_inclusive_gross_only(session: CheckSession) -> Outcome:
    invoice = await _au_inclusive(session, with_gross=False)
    tax, total = tax_on_top([gross for _, gross, _, _ in au_sample.LINES])
    expected = f"TotalTax {cents(tax)}, TotalAmt {cents(total)}"
    return outcome(expected, totals_text(invoice), invoice_id=invoice.get("Id"))


async def inclusive_amounts_disagree(session: CheckSession) -> Outcome:
    item, gst = await session.item_id(), await session.tax_code_id("GST")
    # 100.00 net with 115.00 gross: 10 % GST says the gross is 110.00.
    line = item_line(item, Decimal("100.00"), gst, TaxInclusiveAmt=Decimal("115.00"))
    invoice = await session.invoice_ok([line], GlobalTaxCalculation="TaxInclusive")
    stored: dict[str, Any] = next(
        (ln for ln in invoice.get("Line", []) if ln.get("DetailType") == "SalesItemLineDetail"),
        {},
    )
    gross = (stored.get("SalesItemLineDetail") or {}).get("TaxInclusiveAmt")
    observed = f"Amount {cents(stored.get('Amount'))}, TaxInclusiveAmt {cents(gross)}, "
    observed += totals_text(invoice)
    expected = "Amount 100.00, TaxInclusiveAmt 115.00, TotalTax 15.00, TotalAmt 115.00"
    return outcome(expected, observed, invoice_id=invoice.get("Id"))


# GB: 2 x 33.33 at 20 %, 3 x 12.35 at 5 %, 7.5 % discount off the 103.71 subtotal (7.78). The
# emulator's rule (qbo_emulator/money.py): the discount is shared over the tax codes in proportion
# to their amounts, each share rounded half-up to the cent (20 %: 5.00, 5 %: 2.78), then each
# code's tax is rounded half-up (61.66 x 20 % = 12.33; 34.27 x 5 % = 1.71).
GB_DISCOUNT = "7.78"
GB_TOTAL_TAX = "14.04"
GB_TOTAL_AMT = "109.97"


async def multi_rate_discount(session: CheckSession) -> Outcome:
    item = await session.item_id()
    standard, reduced = await session.tax_code_id("20.0% S"), await session.tax_code_id("5.0% R")
    lines = [
        item_line(item, Decimal("66.66"), standard, Qty=Decimal(2), UnitPrice=Decimal("33.33")),
        item_line(item, Decimal("37.05"), reduced, Qty=Decimal(3), UnitPrice=Decimal("12.35")),
        {
            "DetailType": "DiscountLineDetail",
            "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": Decimal("7.5")},
        },
    ]
    invoice = await session.invoice_ok(lines, GlobalTaxCalculation="TaxExcluded")
    discount = next(
        (
            ln.get("Amount")
            for ln in invoice.get("Line", [])
            if ln.get("DetailType") == "DiscountLineDetail"
        ),
        None,
    )
    expected = f"discount {GB_DISCOUNT}, TotalTax {GB_TOTAL_TAX}, TotalAmt {GB_TOTAL_AMT}"
    observed = f"discount {cents(discount)}, {totals_text(invoice)}"
    tax_lines = (invoice.get("TxnTaxDetail") or {}).get("TaxLine", [])
    return outcome(expected, observed, invoice_id=invoice.get("Id"), tax_lines=tax_lines)


async def us_line_without_tax_code(session: CheckSession) -> Outcome:
    taxable, exempt = await session.item_id(taxable=True), await session.item_id(taxable=False)
    lines = [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": Decimal(100),
            "SalesItemLineDetail": {"ItemRef": {"value": item}},
        }
        for item in (taxable, exempt)
    ]
    invoice = await session.invoice_ok(lines)
    codes = [
        str(((ln.get("SalesItemLineDetail") or {}).get("TaxCodeRef") or {}).get("value", "-"))
        for ln in invoice.get("Line", [])
        if ln.get("DetailType") == "SalesItemLineDetail"
    ]
    observed = f"taxable item: {codes[0] if codes else '-'}, non-taxable item: "
    observed += codes[1] if len(codes) > 1 else "-"
    expected = "taxable item: TAX, non-taxable item: NON"
    return outcome(expected, observed, invoice_id=invoice.get("Id"), totals=totals_text(invoice))


CHECKS = (
    Check(
        name="tax-inclusive input with TaxInclusiveAmt",
        source=au_sample.SOURCE,
        sends="AU invoice, GlobalTaxCalculation TaxInclusive, the 7 real lines: net Amount, "
        "Qty, UnitPrice (7 places), TaxInclusiveAmt, GST",
        expects="the totals QBO stored for that invoice",
        run=tax_inclusive_with_gross,
        needs=Needs(country="AU"),
    ),
    Check(
        name="tax-inclusive input without TaxInclusiveAmt",
        source="ruckus/quickbooks-ruby #346 (2016: 'By default QuickBooks assumes all prices "
        "exclude tax'; GlobalTaxCalculation only changes the display); GST rounded per line "
        "as the emulator models it (qbo_emulator/tax_inclusive.py)",
        sends="AU invoice, GlobalTaxCalculation TaxInclusive, the same 7 lines with the gross "
        "in Amount only (no TaxInclusiveAmt, Qty, UnitPrice)",
        expects="Amounts taken as net, GST added on top per line",
        run=tax_inclusive_gross_only,
        needs=Needs(country="AU"),
        unknown=True,
    ),
    Check(
        name="tax-inclusive line whose Amount disagrees with TaxInclusiveAmt",
        source="emulator's model (qbo_emulator/tax_inclusive.py: both kept as sent, the line's "
        "tax = gross - net)",
        sends="AU invoice, TaxInclusive, one GST line: Amount 100.00, TaxInclusiveAmt 115.00",
        expects="Amount 100.00, TaxInclusiveAmt 115.00, TotalTax 15.00, TotalAmt 115.00",
        run=inclusive_amounts_disagree,
        needs=Needs(country="AU"),
        unknown=True,
    ),
    Check(
        name="multi-rate tax-exclusive invoice with a discount",
        source="the emulator's rule (qbo_emulator/money.py: discount shared per tax code, "
        "rounded half-up per share and per code's tax)",
        sends="GB invoice, TaxExcluded: 66.66 at 20.0% S, 37.05 at 5.0% R, 7.5 % discount",
        expects=f"discount {GB_DISCOUNT}, TotalTax {GB_TOTAL_TAX}, TotalAmt {GB_TOTAL_AMT}",
        run=multi_rate_discount,
        needs=Needs(country="GB"),
        unknown=True,
    ),
    Check(
        name="US AST line without a tax code",
        source="Intuit developer blog 2018-03-28 (automated sales tax: a line without "
        "TaxCodeRef follows the item's Taxable flag)",
        sends="US invoice: one line of a Taxable item, one of a non-taxable item, no TaxCodeRef",
        expects="taxable item: TAX, non-taxable item: NON",
        run=us_line_without_tax_code,
        needs=Needs(country="US"),
    ),
)
