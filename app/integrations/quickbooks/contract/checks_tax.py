"""Checks of tax rules the emulator models without a source: tax-inclusive discounts, multi-rate
codes and half-cent ties, US line tax codes QBO refuses, and a US TotalTax sent explicitly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.integrations.quickbooks.contract.checks_money import cents, item_line, totals_text
from app.integrations.quickbooks.contract.model import Check, Needs, Outcome
from app.integrations.quickbooks.contract.runner import outcome
from app.integrations.quickbooks.contract.session import CheckSession
from app.integrations.quickbooks.contract.targets import SkipCheck

INCLUSIVE = "TaxInclusive"


def _sales_lines(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [ln for ln in document.get("Line", []) if ln.get("DetailType") == "SalesItemLineDetail"]


def _line_text(line: dict[str, Any]) -> str:
    gross = (line.get("SalesItemLineDetail") or {}).get("TaxInclusiveAmt")
    return f"Amount {cents(line.get('Amount'))}, TaxInclusiveAmt {cents(gross)}"


def _discount(document: dict[str, Any]) -> str:
    amount = next(
        (
            ln.get("Amount")
            for ln in document.get("Line", [])
            if ln.get("DetailType") == "DiscountLineDetail"
        ),
        None,
    )
    return cents(amount)


# AU, tax-inclusive: 110.00 gross at GST 10 % (net 100.00, tax 10.00) and 50.00 at FRE 0 %, then
# a 10 % discount. The emulator's rule (qbo_emulator/tax_inclusive.py _apply_discount, modelled on
# the tax-exclusive rule): the discount is 10 % of the net subtotal 150.00 = 15.00, shared over
# the codes by net (GST 10.00, FRE 5.00); GST loses round(10.00 x 10 %) = 1.00 of tax, so
# TotalTax 9.00 and TotalAmt = 160.00 gross - 15.00 - 1.00 = 144.00.
AU_DISCOUNT, AU_DISCOUNT_TAX, AU_DISCOUNT_TOTAL = "15.00", "9.00", "144.00"


async def inclusive_discount(session: CheckSession) -> Outcome:
    item = await session.item_id()
    gst, free = await session.tax_code_id("GST"), await session.tax_code_id("FRE")
    lines = [
        item_line(item, Decimal("100.00"), gst, TaxInclusiveAmt=Decimal("110.00")),
        item_line(item, Decimal("50.00"), free, TaxInclusiveAmt=Decimal("50.00")),
        {
            "DetailType": "DiscountLineDetail",
            "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": Decimal(10)},
        },
    ]
    invoice = await session.invoice_ok(lines, GlobalTaxCalculation=INCLUSIVE)
    expected = f"discount {AU_DISCOUNT}, TotalTax {AU_DISCOUNT_TAX}, TotalAmt {AU_DISCOUNT_TOTAL}"
    observed = f"discount {_discount(invoice)}, {totals_text(invoice)}"
    tax_lines = (invoice.get("TxnTaxDetail") or {}).get("TaxLine", [])
    return outcome(expected, observed, invoice_id=invoice.get("Id"), tax_lines=tax_lines)


async def _multi_rate_code(session: CheckSession) -> tuple[str, str, list[Decimal]] | None:
    """A tax code with two or more sales rates (e.g. a Canadian GST/PST code), with them."""
    codes = await session.qbo.query_rows("select * from TaxCode maxresults 1000", "TaxCode")
    for code in codes:
        details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
        if code.get("Active") is False or len(details) < 2:
            continue
        percents = []
        for detail in details:
            rate_id = str((detail.get("TaxRateRef") or {}).get("value"))
            rate = await session.qbo.read("TaxRate", rate_id)
            percents.append(Decimal(str(rate.entity("TaxRate").get("RateValue", 0))))
        return str(code["Id"]), str(code.get("Name")), percents
    return None


def _split(net: Decimal, gross: Decimal, percents: list[Decimal]) -> list[str]:
    """The emulator's rule: each rate but the last round(net x rate), the last the rest."""
    taxes = [(net * pct / 100).quantize(Decimal("0.01")) for pct in percents[:-1]]
    taxes.append(gross - net - sum(taxes, Decimal(0)))
    return [cents(t) for t in taxes]


async def multi_rate_inclusive(session: CheckSession) -> Outcome:
    found = await _multi_rate_code(session)
    expected = "each rate but the last round(net x rate), the last the rest of gross - net"
    if found is None:
        if session.target == "sandbox":
            raise SkipCheck(
                "the company has no tax code with two or more sales rates (a Canadian company "
                "in a province with GST and PST or QST has one)"
            )
        # The emulator's companies have one rate per code (its README: "knowingly differs"):
        # nothing to send; the rule is the emulator's own and is measured on a sandbox only.
        observed = "no tax code with two or more sales rates: nothing measured"
        return Outcome(expected, observed, True, {"measured": False})
    code_id, name, percents = found
    net = Decimal("100.00")
    gross = net + sum(((net * p / 100).quantize(Decimal("0.01")) for p in percents), Decimal(0))
    gross += Decimal("0.01")  # a cent the rates do not give: which rate takes it is the question
    line = item_line(await session.item_id(), net, code_id, TaxInclusiveAmt=gross)
    invoice = await session.invoice_ok([line], GlobalTaxCalculation=INCLUSIVE)
    tax_lines = (invoice.get("TxnTaxDetail") or {}).get("TaxLine", [])
    observed_split = [cents(tl.get("Amount")) for tl in tax_lines if isinstance(tl, dict)]
    want = _split(net, gross, percents)
    return Outcome(
        f"{expected}: {', '.join(want)}",
        f"tax lines {', '.join(observed_split) or '-'}; {totals_text(invoice)}",
        observed_split == want,
        {"tax_code": name, "percents": [str(p) for p in percents], "tax_lines": tax_lines},
    )


async def half_cent_tie(session: CheckSession) -> Outcome:
    # 0.03 gross at 20 %: net = 0.03 x 100 / 120 = 0.025 exactly, a half-cent tie.
    detail = {
        "ItemRef": {"value": await session.item_id()},
        "TaxCodeRef": {"value": await session.tax_code_id("20.0% S")},
        "TaxInclusiveAmt": Decimal("0.03"),
    }
    line = {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    invoice = await session.invoice_ok([line], GlobalTaxCalculation=INCLUSIVE)
    stored = _sales_lines(invoice)
    observed = f"{_line_text(stored[0]) if stored else '-'}, {totals_text(invoice)}"
    expected = "Amount 0.03, TaxInclusiveAmt 0.03, TotalTax 0.00, TotalAmt 0.03"
    return outcome(expected, observed, invoice_id=invoice.get("Id"))


async def us_invalid_tax_code(session: CheckSession) -> Outcome:
    line = item_line(await session.item_id(), Decimal(10), "999999")
    answer = await session.invoice([line])
    services = await session.rows_where("Item", "Name", "Services")
    taxable = services[0].get("Taxable") if services else "no such item"
    observed = f"{answer.status}, codes {','.join(answer.codes()) or '-'}"
    observed += f"; 'Services' item Taxable {taxable}"
    return outcome(
        "400, codes 2500; 'Services' item Taxable False",
        observed,
        answer=answer.summary(),
    )


async def us_posted_tax(session: CheckSession) -> Outcome:
    """The service's us_tax_mode "post" (app/sync/mapping/us.py): TAX/NON lines, a discount line
    and the CRM's tax as TxnTaxDetail.TotalTax."""
    taxable, exempt = await session.item_id(taxable=True), await session.item_id(taxable=False)
    lines = [
        item_line(taxable, Decimal("100.00"), "TAX"),
        item_line(exempt, Decimal("50.00"), "NON"),
        {
            "DetailType": "DiscountLineDetail",
            "Amount": Decimal("10.00"),
            "DiscountLineDetail": {"PercentBased": False},
        },
    ]
    invoice = await session.invoice_ok(lines, TxnTaxDetail={"TotalTax": Decimal("7.77")})
    expected = "TotalTax 7.77, TotalAmt 147.77"
    return outcome(expected, totals_text(invoice), invoice_id=invoice.get("Id"))


CHECKS = (
    Check(
        name="tax-inclusive document with a discount line",
        source="emulator's model (qbo_emulator/tax_inclusive.py: the discount shared over the "
        "codes by net, each rate losing round(share x rate)); no real sample has one",
        sends="AU invoice, TaxInclusive: 110.00 gross at GST, 50.00 at FRE, a 10 % discount",
        expects=f"discount {AU_DISCOUNT}, TotalTax {AU_DISCOUNT_TAX}, TotalAmt {AU_DISCOUNT_TOTAL}",
        run=inclusive_discount,
        needs=Needs(country="AU"),
        unknown=True,
    ),
    Check(
        name="tax-inclusive line on a multi-rate tax code",
        source="emulator's model (qbo_emulator/tax_inclusive.py _rate_taxes); the emulator "
        "cannot make a multi-rate code, so only a sandbox company with one measures it",
        sends="CA invoice, TaxInclusive, one line on the company's first code with two or more "
        "sales rates: net 100.00, gross a cent above what the rates give",
        expects="each rate but the last round(net x rate), the last the rest",
        run=multi_rate_inclusive,
        needs=Needs(country="CA"),
        unknown=True,
    ),
    Check(
        name="tax-inclusive back-out at a half-cent tie",
        source="emulator's model (qbo_emulator/tax_inclusive.py: net = round half-up of gross x "
        "100 / (100 + rate), as on every real AU line; no real line is a tie)",
        sends="GB invoice, TaxInclusive, one line at 20.0% S with TaxInclusiveAmt 0.03 and no "
        "Amount (net 0.025 exactly)",
        expects="Amount 0.03, TaxInclusiveAmt 0.03, TotalTax 0.00, TotalAmt 0.03",
        run=half_cent_tie,
        needs=Needs(country="GB"),
        unknown=True,
    ),
    Check(
        name="invalid line tax code in a US company",
        source="emulator's model (qbo_emulator/sales.py _us_line_code: a TaxCodeRef other than "
        "TAX, NON or a TaxCode's id is refused, 2500 Invalid Reference Id; its fresh company's "
        "'Services' item is not taxable)",
        sends="US invoice, one line with TaxCodeRef 999999; a query for the 'Services' item",
        expects="400, codes 2500; 'Services' item Taxable False",
        run=us_invalid_tax_code,
        needs=Needs(country="US"),
        unknown=True,
    ),
    Check(
        name="US tax posted as an explicit TotalTax",
        source="Intuit developer blog 2017-12-11 (automated sales tax honours an explicit "
        "TxnTaxDetail.TotalTax and prorates it over its rates; qbo-api.md correction 8)",
        sends="US invoice as the service's us_tax_mode 'post' sends it: 100.00 TAX, 50.00 NON, "
        "a 10.00 discount line, TxnTaxDetail.TotalTax 7.77",
        expects="TotalTax 7.77, TotalAmt 147.77",
        run=us_posted_tax,
        needs=Needs(country="US"),
    ),
)
