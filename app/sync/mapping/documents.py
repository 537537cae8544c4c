"""CRM document -> QBO sales lines, taxes and discount (S4): pure functions, no I/O.

US companies (`map_us_document`): the discount and the taxes are folded into the line amounts,
lines are marked non-taxable and TxnTaxDetail.TotalTax is 0, so QBO adds nothing.
Other regions (`map_regional_document`): lines keep their prices, the discount is one discount
line, each line gets the tax code with the line's combined rate, and GlobalTaxCalculation says
whether prices include tax. Either way the QBO total must equal the CRM total to the cent, or
the document is refused with a `MappingError` that says what a person should change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from app.integrations.crm.schemas import Discount, LineItem
from app.integrations.quickbooks.entities import Ref
from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.integrations.quickbooks.transactions import (
    DISCOUNT,
    SALES_ITEM,
    DiscountLineDetail,
    Line,
    SalesItemLineDetail,
    TxnTaxDetail,
)
from app.sync.mapping.money import (
    HUNDRED,
    ZERO,
    MappingError,
    check_places,
    is_on_grid,
    minor_unit,
    plain,
    quantum,
    round_money,
    round_places,
    show_money,
    totals_match,
    unit_price_for,
)
from app.sync.mapping.regional import (
    QboDiscount,
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
from app.sync.mapping.us import fold

__all__ = [
    "CompanyTaxCode",
    "DocumentInput",
    "MappedDocument",
    "MappingError",
    "check_totals",
    "company_tax_codes",
    "map_regional_document",
    "map_us_document",
    "minor_unit",
    "totals_match",
]

# AST reads a line's TaxCodeRef as a taxable flag only: "NON" keeps it from adding tax.
US_NON_TAXABLE = "NON"
MAX_DESCRIPTION = 4000
ROUNDING_DESCRIPTION = "Rounding adjustment"
TIMES = "\u00d7"  # the multiplication sign, as in "3 x 9.99" in a line description


@dataclass(frozen=True)
class DocumentInput:
    currency: str
    lines: Sequence[LineItem]
    discount: Discount | None
    totals_total: Decimal
    totals_tax: Decimal
    totals_discount: Decimal
    item_ids: Mapping[str, str]  # CRM line name -> QBO Item Id
    # Item for a rounding line (non-US, rarely needed); None: the first line's item.
    rounding_item_id: str | None = None


@dataclass(frozen=True)
class MappedDocument:
    lines: list[Line]
    global_tax_calculation: str | None
    txn_tax_detail: TxnTaxDetail | None
    expected_total: Decimal
    notes: list[str] = field(default_factory=list)


# --- checking the CRM's own arithmetic ------------------------------------------------------


def line_nets(doc: DocumentInput) -> list[Decimal]:
    """Each line's quantity x unit price, rounded half-up like QBO rounds line amounts."""
    return [round_money(line.quantity * line.unit_price, doc.currency) for line in doc.lines]


def _fix_in_crm(problem: str) -> MappingError:
    return MappingError(f"{problem}; correct the document in the CRM and send it again")


def _check_values(doc: DocumentInput) -> None:
    # Validated CRM events cannot carry these, but a DocumentInput can be built by hand.
    for number, line in enumerate(doc.lines, start=1):
        if line.quantity <= 0 or line.unit_price < 0 or any(t.rate < 0 for t in line.taxes):
            raise _fix_in_crm(
                f"Line {number} '{line.name}' has a zero or negative quantity, a negative price "
                "or a negative tax rate, which QuickBooks sales lines cannot carry"
            )
    totals = {"total": doc.totals_total, "tax": doc.totals_tax, "discount": doc.totals_discount}
    for name, value in totals.items():
        if value < 0 or not is_on_grid(value, doc.currency):
            raise _fix_in_crm(
                f"The CRM {name} {value} is negative or has more decimals than {doc.currency} "
                f"allows ({minor_unit(doc.currency)})"
            )
    if not doc.lines:
        raise _fix_in_crm("The CRM document has no lines")


def _check_discount(doc: DocumentInput, subtotal: Decimal) -> None:
    taken, unit = doc.totals_discount, quantum(doc.currency)
    if doc.discount is None:
        expected, slack = ZERO, ZERO
    elif doc.discount.type == "percentage":
        # The CRM may round its discount per line: allow a unit per line.
        expected = round_money(subtotal * doc.discount.value / HUNDRED, doc.currency)
        slack = unit * len(doc.lines)
    else:
        # A fixed discount is exact, but may have cents in a currency without them (JPY).
        expected, slack = min(doc.discount.value, subtotal), unit - unit / 100
    if taken > subtotal or abs(taken - expected) > slack:
        raise _fix_in_crm(
            f"The CRM discount {show_money(taken, doc.currency)} does not fit the lines "
            f"(subtotal {show_money(subtotal, doc.currency)}, expected about "
            f"{show_money(expected, doc.currency)})"
        )


def _exact_taxes(doc: DocumentInput, nets: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """Unrounded (exclusive on net, exclusive on gross, inclusive) tax after the discount."""
    subtotal = sum(nets, ZERO)
    kept = (subtotal - doc.totals_discount) / subtotal if subtotal else ZERO
    on_net = on_gross = inclusive = ZERO
    for net, line in zip(nets, doc.lines, strict=True):
        base = net * kept
        rate_in = sum((t.rate for t in line.taxes if t.inclusive), ZERO)
        rate_ex = sum((t.rate for t in line.taxes if not t.inclusive), ZERO)
        untaxed = base * HUNDRED / (HUNDRED + rate_in)
        inclusive += base - untaxed
        on_net += untaxed * rate_ex / HUNDRED
        on_gross += base * rate_ex / HUNDRED
    return on_net, on_gross, inclusive


def check_totals(doc: DocumentInput) -> None:
    """Refuse a CRM snapshot whose lines, discount and tax don't add up to its own total.

    Line amounts are quantity x price rounded half-up; the CRM's own rounding of discount and
    tax (per line or per document) is tolerated up to one minor unit per line and per tax.
    """
    _check_values(doc)
    nets = line_nets(doc)
    subtotal = sum(nets, ZERO)
    _check_discount(doc, subtotal)
    on_net, on_gross, inclusive = _exact_taxes(doc, nets)
    taxes = sum(1 for line in doc.lines for tax in line.taxes if tax.rate)
    slack = quantum(doc.currency) * (len(doc.lines) + taxes + 1)
    charged = subtotal - doc.totals_discount
    extra = doc.totals_total - charged
    money = doc.currency
    if charged == 0 and doc.totals_total != 0:
        raise _fix_in_crm(f"The CRM total is {show_money(doc.totals_total, money)} but nothing "
                          "is charged once the discount is taken")  # fmt: skip
    if min(abs(extra - on_net), abs(extra - on_gross)) > slack:
        raise _fix_in_crm(
            f"The CRM total {show_money(doc.totals_total, money)} does not add up: lines "
            f"{show_money(subtotal, money)} - discount {show_money(doc.totals_discount, money)} "
            f"+ exclusive taxes {show_money(on_net, money)} at the lines' rates"
        )
    if min(abs(doc.totals_tax - inclusive - t) for t in (on_net, on_gross)) > slack:
        raise _fix_in_crm(
            f"The CRM tax {show_money(doc.totals_tax, money)} does not match the lines' tax "
            f"rates (about {show_money(on_net + inclusive, money)})"
        )


# --- building QBO lines ---------------------------------------------------------------------


def _item_id(doc: DocumentInput, line: LineItem) -> str:
    item_id = doc.item_ids.get(line.name)
    if item_id is None:
        raise MappingError(
            f"No QuickBooks item was resolved for the CRM line '{line.name}'; "
            "sync the items first and retry"
        )
    return item_id


def _show_price(price: Decimal, currency: str) -> str:
    return show_money(price, currency) if is_on_grid(price, currency) else plain(price)


def _describe(line: LineItem, extra: str) -> str:
    text = f"{line.description} ({extra})" if line.description else extra
    return text[:MAX_DESCRIPTION]


def _sales_line(
    doc: DocumentInput, number: int, amount: Decimal, tax_code: str | None, notes: list[str]
) -> Line:
    """A sales line whose Qty x UnitPrice rounds to ``amount`` (QBO fault 6070 otherwise).

    The CRM price is kept when it still fits; otherwise the closest price with up to 7 places;
    if none exists the line becomes 1 x amount and the CRM's "qty x price" goes in the text.
    """
    line = doc.lines[number - 1]
    qty = line.quantity
    price: Decimal | None = line.unit_price
    if round_places(qty * line.unit_price, check_places(doc.currency)) != amount:
        price = unit_price_for(amount, qty, doc.currency)
    description = line.description
    if price is None:
        shown = f"{plain(qty)} {TIMES} {_show_price(line.unit_price, doc.currency)}"
        description = _describe(line, shown)
        total = show_money(amount, doc.currency)
        notes.append(
            f"Line {number} '{line.name}': no unit price gives {total} for quantity "
            f"{plain(qty)}, so it is sent as 1 {TIMES} {total} with '{shown}' in its description"
        )
        qty, price = Decimal(1), amount
    detail = SalesItemLineDetail(
        ItemRef=Ref(value=_item_id(doc, line)),
        Qty=qty,
        UnitPrice=price,
        TaxCodeRef=Ref(value=tax_code) if tax_code else None,
    )
    return Line(
        DetailType=SALES_ITEM,
        Amount=amount,
        Description=description,
        SalesItemLineDetail=detail,
    )


# --- US -------------------------------------------------------------------------------------


def map_us_document(doc: DocumentInput) -> MappedDocument:
    """Fold discount and taxes into the lines; nothing left for automated sales tax to add.

    TxnTaxDetail.TotalTax is sent as 0 as well as every line being "NON": AST honours an
    explicit TotalTax (qbo-api.md §6.6), so even a line that QBO decides is taxable (from the
    item or the customer) cannot bring tax in on top of the folded amounts.
    """
    check_totals(doc)
    exclusive = [sum((t.rate for t in line.taxes if not t.inclusive), ZERO) for line in doc.lines]
    folds = fold(line_nets(doc), exclusive, doc.totals_discount, doc.totals_total, doc.currency)
    notes: list[str] = []
    lines: list[Line] = []
    for number, folded in enumerate(folds, start=1):
        if folded.amount < 0:
            raise _fix_in_crm(
                f"Line {number} '{doc.lines[number - 1].name}' would carry a negative amount "
                "once the discount and the CRM's rounding are folded in"
            )
        if folded.amount != folded.net:
            notes.append(_fold_note(doc, number, folded.net, folded.discount, folded.tax))
        lines.append(_sales_line(doc, number, folded.amount, US_NON_TAXABLE, notes))
    return MappedDocument(
        lines=lines,
        global_tax_calculation=None,
        txn_tax_detail=TxnTaxDetail(TotalTax=ZERO),
        expected_total=doc.totals_total,
        notes=notes,
    )


def _fold_note(doc: DocumentInput, number: int, net: Decimal, taken: Decimal, tax: Decimal) -> str:
    money = doc.currency
    return (
        f"Line {number} '{doc.lines[number - 1].name}': {show_money(net, money)} "
        f"- discount {show_money(taken, money)} + tax {show_money(tax, money)} "
        f"= {show_money(net - taken + tax, money)} (US: folded into the line)"
    )


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


def _rounding_line(doc: DocumentInput, amount: Decimal, zero: CompanyTaxCode) -> Line:
    item_id = doc.rounding_item_id or _item_id(doc, doc.lines[0])
    detail = SalesItemLineDetail(
        ItemRef=Ref(value=item_id), Qty=Decimal(1), UnitPrice=amount, TaxCodeRef=Ref(value=zero.id)
    )
    return Line(
        DetailType=SALES_ITEM,
        Amount=amount,
        Description=ROUNDING_DESCRIPTION,
        SalesItemLineDetail=detail,
    )


def map_regional_document(
    doc: DocumentInput, tax_codes: Sequence[CompanyTaxCode]
) -> MappedDocument:
    """Lines at their CRM prices with tax codes, one discount line, the document's tax mode."""
    check_totals(doc)
    mode = tax_mode(doc.lines, tax_codes)
    codes = line_codes(doc.lines, tax_codes, mode)
    zero = choose_code([], tax_codes)
    notes: list[str] = []
    settled = _settle(doc, codes, mode, zero, notes)
    lines = [
        _sales_line(doc, number, amount, code.id if code else None, notes)
        for number, (amount, code) in enumerate(zip(settled.amounts, codes, strict=True), 1)
    ]
    amounts = list(settled.amounts)
    if settled.rounding is not None and zero is not None:
        lines.append(_rounding_line(doc, settled.rounding, zero))
        amounts.append(settled.rounding)
        codes.append(zero)
    if settled.discount is not None:
        lines.append(_discount_line(settled.discount))
    tax = predict(amounts, codes, settled.discount, mode, doc.currency).tax
    if mode != "NotApplicable" and tax != doc.totals_tax:
        notes.append(
            f"QuickBooks will show tax {show_money(tax, doc.currency)} where the CRM shows "
            f"{show_money(doc.totals_tax, doc.currency)} (rounding per tax code vs per line)"
        )
    return MappedDocument(lines, mode, None, doc.totals_total, notes)


def _discount_line(discount: QboDiscount) -> Line:
    percent_based = discount.percent is not None
    detail = DiscountLineDetail(PercentBased=percent_based, DiscountPercent=discount.percent)
    return Line(DetailType=DISCOUNT, Amount=discount.amount, DiscountLineDetail=detail)
