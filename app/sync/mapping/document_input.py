"""The CRM document as the mapping reads it, and the check that its own arithmetic adds up.

`check_totals` runs before anything is mapped or written: a CRM snapshot whose lines, discount
and tax do not add up to its own total is refused with what a person should correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from app.integrations.crm.schemas import Discount, LineItem
from app.integrations.quickbooks.transactions import Line, TxnTaxDetail
from app.sync.mapping.money import (
    HUNDRED,
    ZERO,
    MappingError,
    is_on_grid,
    minor_unit,
    quantum,
    round_money,
    show_money,
)
from app.sync.mapping.regional import TaxMode


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
    global_tax_calculation: TaxMode | None
    txn_tax_detail: TxnTaxDetail | None
    expected_total: Decimal
    notes: list[str] = field(default_factory=list)


# --- checking the CRM's own arithmetic ------------------------------------------------------


def line_nets(doc: DocumentInput) -> list[Decimal]:
    """Each line's quantity x unit price, rounded half-up like QBO rounds line amounts."""
    return [round_money(line.quantity * line.unit_price, doc.currency) for line in doc.lines]


def fix_in_crm(problem: str) -> MappingError:
    return MappingError(f"{problem}; correct the document in the CRM and send it again")


def _check_values(doc: DocumentInput) -> None:
    # Validated CRM events cannot carry these, but a DocumentInput can be built by hand.
    for number, line in enumerate(doc.lines, start=1):
        if line.quantity <= 0 or line.unit_price < 0 or any(t.rate < 0 for t in line.taxes):
            raise fix_in_crm(
                f"Line {number} '{line.name}' has a zero or negative quantity, a negative price "
                "or a negative tax rate, which QuickBooks sales lines cannot carry"
            )
    totals = {"total": doc.totals_total, "tax": doc.totals_tax, "discount": doc.totals_discount}
    for name, value in totals.items():
        if value < 0 or not is_on_grid(value, doc.currency):
            raise fix_in_crm(
                f"The CRM {name} {value} is negative or has more decimals than {doc.currency} "
                f"allows ({minor_unit(doc.currency)})"
            )
    if not doc.lines:
        raise fix_in_crm("The CRM document has no lines")


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
        raise fix_in_crm(
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
        raise fix_in_crm(f"The CRM total is {show_money(doc.totals_total, money)} but nothing "
                          "is charged once the discount is taken")  # fmt: skip
    if min(abs(extra - on_net), abs(extra - on_gross)) > slack:
        raise fix_in_crm(
            f"The CRM total {show_money(doc.totals_total, money)} does not add up: lines "
            f"{show_money(subtotal, money)} - discount {show_money(doc.totals_discount, money)} "
            f"+ exclusive taxes {show_money(on_net, money)} at the lines' rates"
        )
    if min(abs(doc.totals_tax - inclusive - t) for t in (on_net, on_gross)) > slack:
        raise fix_in_crm(
            f"The CRM tax {show_money(doc.totals_tax, money)} does not match the lines' tax "
            f"rates (about {show_money(on_net + inclusive, money)})"
        )
