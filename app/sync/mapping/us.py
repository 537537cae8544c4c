"""US documents: Automated Sales Tax (AST), and the two ways the CRM's tax reaches QBO.

AST ignores the tax codes an app sends and picks its own rates from addresses (qbo-api.md §0.10,
§6.6), but "whenever an explicit tax amount is sent in the transaction request the AST engine
honors the amount and prorates it across tax rates in the AST-assigned tax code" (Intuit blog
"Using QuickBooks Online API for automated sales tax", 2017-12-11; qbo-api.md correction 8).
A line without TaxCodeRef follows its item's taxability (Intuit blog 2018-03-28), so every line
says TAX or NON. The connection's `us_tax_mode` picks one of:

* "fold" (default): the CRM's discount and exclusive taxes go into the line amounts, every line
  is NON and TotalTax is 0, so QBO adds nothing; the lines add up to the CRM total. Sales
  tax then shows in QBO as part of income, not as a liability.
* "post": lines net of tax at the CRM prices (TAX where the CRM taxed them), the discount as a
  QBO discount line, and the CRM's tax as an explicit TxnTaxDetail.TotalTax, so the tax lands
  in Sales Tax Payable. Total = lines - discount + TotalTax, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from app.integrations.quickbooks.transactions import Line, TxnTaxDetail
from app.sync.mapping.document_input import (
    DocumentInput,
    MappedDocument,
    fix_in_crm,
    line_nets,
)
from app.sync.mapping.lines import discount_line, sales_line
from app.sync.mapping.money import (
    HUNDRED,
    ZERO,
    apportion,
    from_units,
    plain,
    show_money,
    to_units,
)
from app.sync.mapping.regional import qbo_discount

UsTaxMode = Literal["fold", "post"]
US_TAX_MODES: tuple[UsTaxMode, ...] = ("fold", "post")
# AST reads a line's TaxCodeRef as a taxable flag only.
US_TAXABLE, US_NON_TAXABLE = "TAX", "NON"


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


def map_us_folded(doc: DocumentInput) -> MappedDocument:
    """Fold discount and taxes into the lines; nothing left for automated sales tax to add.

    TxnTaxDetail.TotalTax is sent as 0 as well as every line being "NON": AST honours an
    explicit TotalTax, so even a line that QBO decides is taxable (from the item or the
    customer) cannot bring tax in on top of the folded amounts.
    """
    exclusive = [sum((t.rate for t in line.taxes if not t.inclusive), ZERO) for line in doc.lines]
    folds = fold(line_nets(doc), exclusive, doc.totals_discount, doc.totals_total, doc.currency)
    notes: list[str] = []
    lines: list[Line] = []
    for number, folded in enumerate(folds, start=1):
        if folded.amount < 0:
            raise fix_in_crm(
                f"Line {number} '{doc.lines[number - 1].name}' would carry a negative amount "
                "once the discount and the CRM's rounding are folded in"
            )
        if folded.amount != folded.net:
            notes.append(_fold_note(doc, number, folded))
        lines.append(sales_line(doc, number, folded.amount, US_NON_TAXABLE, notes))
    return MappedDocument(
        lines=lines,
        global_tax_calculation=None,
        txn_tax_detail=TxnTaxDetail(TotalTax=ZERO),
        expected_total=doc.totals_total,
        notes=notes,
    )


def _fold_note(doc: DocumentInput, number: int, folded: Fold) -> str:
    money = doc.currency
    return (
        f"Line {number} '{doc.lines[number - 1].name}': {show_money(folded.net, money)} "
        f"- discount {show_money(folded.discount, money)} + tax {show_money(folded.tax, money)} "
        f"= {show_money(folded.amount, money)} (US: folded into the line)"
    )


def map_us_posted(doc: DocumentInput) -> MappedDocument:
    """Lines net of tax, a discount line, and the CRM's tax as an explicit TotalTax.

    TotalTax is what the CRM total leaves once the lines and the discount are taken, so QBO's
    total is the CRM's to the cent; it equals the CRM's tax unless the CRM's own figures are a
    few cents apart (noted). Prices that include tax cannot be posted (AST adds tax on top of
    the line amounts): such a document is folded instead, with a note.
    """
    if any(tax.inclusive and tax.rate for line in doc.lines for tax in line.taxes):
        mapped = map_us_folded(doc)
        mapped.notes.insert(
            0,
            "The CRM prices include tax, which QuickBooks' automated sales tax cannot take: "
            "the tax is folded into the lines instead of posted as sales tax",
        )
        return mapped
    money, notes = doc.currency, []
    amounts = line_nets(doc)
    subtotal = sum(amounts, ZERO)
    percent = doc.discount.value if doc.discount and doc.discount.type == "percentage" else None
    discount = qbo_discount(percent, doc.totals_discount, subtotal, money)
    tax = doc.totals_total - subtotal + doc.totals_discount
    if tax < 0:
        raise fix_in_crm(
            f"The CRM total {show_money(doc.totals_total, money)} is below its lines less the "
            f"discount ({show_money(subtotal - doc.totals_discount, money)})"
        )
    if tax != doc.totals_tax:
        notes.append(
            f"Sales tax posted as {show_money(tax, money)} where the CRM shows "
            f"{show_money(doc.totals_tax, money)}, so that the QuickBooks total equals the CRM "
            "total"
        )
    lines = [
        sales_line(doc, number, amount, _taxability(doc, number), notes)
        for number, amount in enumerate(amounts, start=1)
    ]
    if discount is not None:
        lines.append(discount_line(discount))
        if percent is not None and discount.percent is None:
            notes.append(
                f"Discount sent as the CRM's amount {show_money(doc.totals_discount, money)} "
                f"rather than {plain(percent)} %, so that QuickBooks' rounding matches the CRM's"
            )
    return MappedDocument(lines, None, TxnTaxDetail(TotalTax=tax), doc.totals_total, notes)


def _taxability(doc: DocumentInput, number: int) -> str:
    taxed = any(tax.rate for tax in doc.lines[number - 1].taxes)
    return US_TAXABLE if taxed else US_NON_TAXABLE
