"""CRM document -> QBO sales lines, taxes and discount (S4): pure functions, no I/O.

US companies (`map_us_document`, rules in `us`): taxes folded into the lines, or posted as an
explicit TotalTax, as the connection's `us_tax_mode` says.
Other regions (`map_regional_document`): each line gets the tax code with the line's combined
rate and GlobalTaxCalculation says whether prices include tax.
* Tax-exclusive: lines keep their prices, the discount is one discount line, and `settle` finds
  the smallest remedy when QBO's rounding per tax code would miss the CRM total.
* Tax-inclusive: lines in the form QBO stores them (`inclusive`): net Amount and UnitPrice, the
  gross in TaxInclusiveAmt; the total is the sum of the grosses, so it is exact by construction.
  The discount is folded into the lines' grosses: how QBO applies a discount line to gross
  prices is not documented, and a third-party report shows one refused ("The discount amount
  can't be greater than the subtotal", intuit/QuickBooks-V3-PHP-SDK #232).
Either way `guard.ensure_total` predicts QBO's total from the lines as built; a document whose
QBO total would differ from the CRM's is refused with a `MappingError` before it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.integrations.quickbooks.transactions import Line
from app.sync.mapping.document_input import (
    DocumentInput,
    MappedDocument,
    check_totals,
    fix_in_crm,
    line_nets,
)
from app.sync.mapping.guard import ensure_total
from app.sync.mapping.inclusive import back_out, predict_inclusive
from app.sync.mapping.lines import discount_line, rounding_line, sales_line
from app.sync.mapping.money import (
    ZERO,
    MappingError,
    minor_unit,
    plain,
    show_money,
    totals_match,
)
from app.sync.mapping.regional import (
    Settlement,
    TaxMode,
    choose_code,
    company_tax_codes,
    line_codes,
    predict,
    qbo_discount,
    settle,
    tax_mode,
)
from app.sync.mapping.us import US_TAX_MODES, UsTaxMode, fold, map_us_folded, map_us_posted

__all__ = [
    "US_TAX_MODES",
    "CompanyTaxCode",
    "DocumentInput",
    "MappedDocument",
    "MappingError",
    "UsTaxMode",
    "check_totals",
    "company_tax_codes",
    "map_regional_document",
    "map_us_document",
    "minor_unit",
    "totals_match",
]


# --- US -------------------------------------------------------------------------------------


def map_us_document(doc: DocumentInput, us_tax_mode: UsTaxMode = "fold") -> MappedDocument:
    """Tax folded into the lines ("fold") or posted as sales tax ("post"); see `us`."""
    check_totals(doc)
    mapped = map_us_posted(doc) if us_tax_mode == "post" else map_us_folded(doc)
    ensure_total(mapped.lines, mapped.txn_tax_detail, None, {}, doc.currency, doc.totals_total)
    return mapped


# --- other regions --------------------------------------------------------------------------


def _settle(
    doc: DocumentInput,
    codes: list[CompanyTaxCode | None],
    mode: TaxMode,
    zero: CompanyTaxCode | None,
    notes: list[str],
) -> Settlement:
    amounts, money = line_nets(doc), doc.currency
    percent = doc.discount.value if doc.discount and doc.discount.type == "percentage" else None
    discount = qbo_discount(percent, doc.totals_discount, sum(amounts, ZERO), money)
    settled = settle(amounts, codes, discount, mode, money, doc.totals_total, zero)
    if settled is None:
        qbo = predict(amounts, codes, discount, mode, money).total
        action = (
            "create a 0 % tax code in QuickBooks (for a rounding line) or check the "
            "document's taxes and discount in the CRM"
            if zero is None
            else "QuickBooks rounds tax per tax code after sharing out the discount, which "
            "cannot give this total; enter the document in QuickBooks by hand or change its "
            "discount in the CRM"
        )
        raise MappingError(
            f"QuickBooks would total this document {show_money(qbo, money)} but the CRM total "
            f"is {show_money(doc.totals_total, money)}, and no small rounding adjustment "
            f"reconciles them; {action}"
        )
    why = "so the QuickBooks total equals the CRM total (QuickBooks rounds tax per tax code)"
    sent = settled.discount
    if percent is not None and sent is not None and sent.percent is None:
        notes.append(
            f"Discount sent as the CRM's amount {show_money(doc.totals_discount, money)} rather "
            f"than {plain(percent)} %, so that QuickBooks' rounding matches the CRM's"
        )
    if settled.rounding is not None:
        notes.append(f"Rounding line of {show_money(settled.rounding, money)} added {why}")
    if settled.fix is not None:
        name = doc.lines[settled.fix.index].name
        shown = show_money(settled.fix.delta, money)
        notes.append(f"Line {settled.fix.index + 1} '{name}': amount changed by {shown} {why}")
    return settled


def _map_exclusive(
    doc: DocumentInput,
    codes: list[CompanyTaxCode | None],
    mode: TaxMode,
    zero: CompanyTaxCode | None,
    notes: list[str],
) -> list[Line]:
    settled = _settle(doc, codes, mode, zero, notes)
    lines = [
        sales_line(doc, number, amount, code.id if code else None, notes)
        for number, (amount, code) in enumerate(zip(settled.amounts, codes, strict=True), 1)
    ]
    amounts = list(settled.amounts)
    if settled.rounding is not None and zero is not None:
        lines.append(rounding_line(doc, settled.rounding, zero))
        amounts.append(settled.rounding)
        codes.append(zero)
    if settled.discount is not None:
        lines.append(discount_line(settled.discount))
    tax = predict(amounts, codes, settled.discount, mode, doc.currency).tax
    if mode != "NotApplicable":
        _tax_note(doc, tax, notes)
    return lines


def _tax_note(doc: DocumentInput, tax: Decimal, notes: list[str]) -> None:
    if tax != doc.totals_tax:
        notes.append(
            f"QuickBooks will show tax {show_money(tax, doc.currency)} where the CRM shows "
            f"{show_money(doc.totals_tax, doc.currency)} (QuickBooks rounds tax differently)"
        )


def _inclusive_grosses(
    doc: DocumentInput, zero: CompanyTaxCode | None, notes: list[str]
) -> tuple[list[Decimal], Decimal | None]:
    """Line grosses summing to the CRM total, and a rounding line's amount if one is needed.

    The discount is shared over the lines in proportion to their grosses (largest remainder).
    A residue between the CRM total and lines less discount (the CRM's own rounding) goes on a
    rounding line at the 0 % code, or, without one, into the lines the same way.
    """
    money, grosses = doc.currency, line_nets(doc)
    charged = sum(grosses, ZERO) - doc.totals_discount
    residue = doc.totals_total - charged
    rounding = residue if residue and zero is not None else None
    target = doc.totals_total - (rounding or ZERO)
    rates = [ZERO] * len(grosses)
    folded = fold(grosses, rates, doc.totals_discount, target, money)
    for number, line in enumerate(folded, start=1):
        if line.amount < 0:
            raise fix_in_crm(
                f"Line {number} '{doc.lines[number - 1].name}' would carry a negative amount "
                "once the discount and the CRM's rounding are taken from it"
            )
    if doc.totals_discount:
        notes.append(
            f"Discount {show_money(doc.totals_discount, money)} taken from the lines' "
            "tax-inclusive amounts (QuickBooks' discount line is not used on tax-inclusive "
            "documents)"
        )
    if residue and rounding is None:
        notes.append(
            f"{show_money(residue, money)} of the CRM's rounding spread over the lines so the "
            "QuickBooks total equals the CRM total"
        )
    if rounding is not None:
        notes.append(
            f"Rounding line of {show_money(rounding, money)} added so the QuickBooks total "
            "equals the CRM total"
        )
    return [line.amount for line in folded], rounding


def _map_inclusive(
    doc: DocumentInput,
    codes: list[CompanyTaxCode | None],
    zero: CompanyTaxCode | None,
    notes: list[str],
) -> list[Line]:
    grosses, rounding = _inclusive_grosses(doc, zero, notes)
    lines: list[Line] = []
    for number, (gross, code) in enumerate(zip(grosses, codes, strict=True), start=1):
        assert code is not None  # TaxInclusive: every line has a code (`line_codes`)
        net = back_out(gross, code.rate, doc.currency)
        lines.append(sales_line(doc, number, net, code.id, notes, gross=gross))
    if rounding is not None and zero is not None:
        lines.append(rounding_line(doc, rounding, zero, inclusive=True))
        grosses.append(rounding)
        codes = [*codes, zero]
    rates = [code.rate if code else ZERO for code in codes]
    ids = [code.id if code else "" for code in codes]
    _tax_note(doc, predict_inclusive(grosses, rates, ids, doc.currency).tax, notes)
    return lines


def map_regional_document(
    doc: DocumentInput, tax_codes: Sequence[CompanyTaxCode]
) -> MappedDocument:
    """Lines with tax codes in the document's tax mode (module docstring)."""
    check_totals(doc)
    mode = tax_mode(doc.lines, tax_codes)
    codes = line_codes(doc.lines, tax_codes, mode)
    zero = choose_code([], tax_codes)
    notes: list[str] = []
    if mode == "TaxInclusive":
        lines = _map_inclusive(doc, codes, zero, notes)
    else:
        lines = _map_exclusive(doc, codes, mode, zero, notes)
    by_id = {code.id: code for code in tax_codes}
    ensure_total(lines, None, mode, by_id, doc.currency, doc.totals_total)
    return MappedDocument(lines, mode, None, doc.totals_total, notes)
