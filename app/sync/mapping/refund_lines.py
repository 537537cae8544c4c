"""What a CRM refund gives back, as a CRM document the sales mapping can read.

A refund is mapped by the same rules as the payment it refunds (items, tax codes, US tax mode,
tax-inclusive stored form, settlement to the cent), so the refund's QBO total is the refunded
amount to the cent and its tax is the payment's tax treatment:

- the whole payment, without lines of its own: the payment's own document;
- with lines: those lines, totalling the refunded amount;
- a partial refund without lines: one line per payment line, each the line's share of the
  refunded amount in proportion to what the line charged after the discount (largest remainder,
  so the shares add up exactly), with the line's item and taxes. Tax-exclusive lines share the
  amount net of their tax; the tax is what the amount leaves (settled by the sales mapping).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from app.integrations.crm.schemas import LineItem, PaymentData, PaymentTotals, RefundData
from app.sync.mapping.money import (
    HUNDRED,
    ZERO,
    apportion,
    from_units,
    round_money,
    to_units,
)


def refund_document(payment: PaymentData, refund: RefundData, *, whole: bool) -> PaymentData:
    """The refund as a payment-shaped document: the lines and totals it gives back."""
    if refund.line_items:
        return _document(payment, refund.line_items, refund.amount)
    if whole:
        return payment
    return _document(payment, _shares(payment, refund.amount), refund.amount)


def _nets(lines: Sequence[LineItem], currency: str) -> list[Decimal]:
    return [round_money(line.quantity * line.unit_price, currency) for line in lines]


def _inclusive_rate(line: LineItem) -> Decimal:
    return sum((tax.rate for tax in line.taxes if tax.inclusive), ZERO)


def _exclusive_rate(line: LineItem) -> Decimal:
    return sum((tax.rate for tax in line.taxes if not tax.inclusive), ZERO)


def _shares(payment: PaymentData, amount: Decimal) -> list[LineItem]:
    """Each line's pro rata part of `amount`, as a line of quantity 1."""
    money = payment.currency
    nets = _nets(payment.line_items, money)
    subtotal = sum(nets, ZERO)
    kept = (subtotal - payment.totals.discount) / subtotal if subtotal else ZERO
    # What each line charged, discount taken; tax-exclusive lines also carry their tax.
    bases = [net * kept for net in nets]
    charged = [
        base * (HUNDRED + _exclusive_rate(line)) / HUNDRED
        for base, line in zip(bases, payment.line_items, strict=True)
    ]
    whole = sum(charged, ZERO)
    if whole == 0:
        weights, to_share = [Decimal(1)] * len(nets), amount
    else:
        # The part of `amount` that is the lines' own (net of exclusive tax), shared by base.
        weights = bases
        to_share = round_money(amount * sum(bases, ZERO) / whole, money)
    units = apportion(to_units(to_share, money), weights)
    shares = [
        line.model_copy(update={"quantity": Decimal(1), "unit_price": from_units(share, money)})
        for line, share in zip(payment.line_items, units, strict=True)
        if share > 0
    ]
    return shares or [payment.line_items[0].model_copy(update={"quantity": Decimal(1)})]


def _document(payment: PaymentData, lines: Sequence[LineItem], amount: Decimal) -> PaymentData:
    money = payment.currency
    nets = _nets(lines, money)
    subtotal = sum(nets, ZERO)
    inclusive = sum(
        (
            net - net * HUNDRED / (HUNDRED + _inclusive_rate(line))
            for net, line in zip(nets, lines, strict=True)
        ),
        ZERO,
    )
    tax = amount - subtotal + round_money(inclusive, money)
    totals = PaymentTotals(subtotal=subtotal, discount=ZERO, tax=max(tax, ZERO), total=amount)
    return payment.model_copy(
        update={"line_items": list(lines), "discount": None, "totals": totals}
    )
