"""QBO sales, rounding and discount lines for a mapped CRM document: pure, no I/O."""

from __future__ import annotations

from decimal import Decimal

from app.integrations.crm.schemas import LineItem
from app.integrations.quickbooks.entities import Ref
from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.integrations.quickbooks.transactions import (
    DISCOUNT,
    SALES_ITEM,
    DiscountLineDetail,
    Line,
    SalesItemLineDetail,
)
from app.sync.mapping.document_input import DocumentInput
from app.sync.mapping.inclusive import net_unit_price
from app.sync.mapping.money import (
    MappingError,
    check_places,
    is_on_grid,
    plain,
    round_places,
    show_money,
    unit_price_for,
)
from app.sync.mapping.regional import QboDiscount

MAX_DESCRIPTION = 4000
ROUNDING_DESCRIPTION = "Rounding adjustment"
TIMES = "\u00d7"  # the multiplication sign, as in "3 x 9.99" in a line description


def item_id(doc: DocumentInput, line: LineItem) -> str:
    found = doc.item_ids.get(line.name)
    if found is None:
        raise MappingError(
            f"No QuickBooks item was resolved for the CRM line '{line.name}'; "
            "sync the items first and retry"
        )
    return found


def _show_price(price: Decimal, currency: str) -> str:
    return show_money(price, currency) if is_on_grid(price, currency) else plain(price)


def _describe(line: LineItem, extra: str) -> str:
    text = f"{line.description} ({extra})" if line.description else extra
    return text[:MAX_DESCRIPTION]


def _price(
    doc: DocumentInput, line: LineItem, amount: Decimal, gross: Decimal | None
) -> Decimal | None:
    if gross is not None:
        # Tax-inclusive: QBO's own form, net / Qty at 7 places (see `inclusive`).
        return net_unit_price(amount, line.quantity, doc.currency)
    if round_places(line.quantity * line.unit_price, check_places(doc.currency)) == amount:
        return line.unit_price
    return unit_price_for(amount, line.quantity, doc.currency)


def sales_line(
    doc: DocumentInput,
    number: int,
    amount: Decimal,
    tax_code: str | None,
    notes: list[str],
    gross: Decimal | None = None,
) -> Line:
    """A sales line whose Qty x UnitPrice rounds to ``amount`` (QBO fault 6070 otherwise).

    Tax-exclusive: the CRM price is kept when it still fits, otherwise the closest price with up
    to 7 places. Tax-inclusive (``gross`` given): ``amount`` is the net, UnitPrice net / Qty and
    the gross goes in TaxInclusiveAmt. If no price fits, the line becomes 1 x amount and the
    CRM's "qty x price" goes in its description.
    """
    line = doc.lines[number - 1]
    qty = line.quantity
    price = _price(doc, line, amount, gross)
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
        ItemRef=Ref(value=item_id(doc, line)),
        Qty=qty,
        UnitPrice=price,
        TaxCodeRef=Ref(value=tax_code) if tax_code else None,
        TaxInclusiveAmt=gross,
    )
    return Line(
        DetailType=SALES_ITEM,
        Amount=amount,
        Description=description,
        SalesItemLineDetail=detail,
    )


def rounding_line(
    doc: DocumentInput, amount: Decimal, zero: CompanyTaxCode, *, inclusive: bool = False
) -> Line:
    """One unit of ``amount`` at the 0 % code (net = gross there)."""
    found = doc.rounding_item_id or item_id(doc, doc.lines[0])
    detail = SalesItemLineDetail(
        ItemRef=Ref(value=found),
        Qty=Decimal(1),
        UnitPrice=amount,
        TaxCodeRef=Ref(value=zero.id),
        TaxInclusiveAmt=amount if inclusive else None,
    )
    return Line(
        DetailType=SALES_ITEM,
        Amount=amount,
        Description=ROUNDING_DESCRIPTION,
        SalesItemLineDetail=detail,
    )


def discount_line(discount: QboDiscount) -> Line:
    percent_based = discount.percent is not None
    detail = DiscountLineDetail(PercentBased=percent_based, DiscountPercent=discount.percent)
    return Line(DetailType=DISCOUNT, Amount=discount.amount, DiscountLineDetail=detail)
