"""HighLevel orders → our `payment.succeeded` events (pure); shapes from
docs/webhook events/OrderStatusUpdate.md and apps/payments.json (OrderSource, the order)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.integrations.highlevel.webhooks import HlOrder
from app.sync.highlevel.translate import (
    Ignored,
    NeedsFullObject,
    Outcome,
    address,
    fact_id,
    money,
    validated,
)


def payment_source(kind: str | None, sub_type: str | None) -> str:
    """Our payment source for HighLevel's OrderSource type/subType (apps/payments.json)."""
    if sub_type and "subscription" in sub_type:
        return "subscription"
    if kind == "calendar":
        return "calendar"
    if kind in ("membership", "communities"):
        return "membership"
    if sub_type in ("one_step_order_form", "two_step_order_form", "upsell") or kind == "form":
        return "order_form"
    # Store, point of sale, payment links, text2Pay...: named in the reference.
    return "other"


def _order_contact(order: HlOrder) -> dict[str, Any] | None:
    snap = order.contactSnapshot
    contact_id = order.contactId or (snap.id if snap else None)
    if contact_id is None:
        return None
    if snap is None:
        return {"id": contact_id}
    return {
        "id": contact_id,
        "email": snap.email,
        "first_name": snap.firstName,
        "last_name": snap.lastName,
        "company_name": snap.companyName,
        "phone": snap.phone,
        "address": address(
            snap.address1, None, snap.city, snap.state, snap.postalCode, snap.country
        ),
    }


def _order_gap(order: HlOrder) -> str | None:
    if not order.items:
        return "no items"
    if order.amountSummary is None:
        return "no amountSummary"
    taxed = any(item.product and item.product.taxes for item in order.items)
    if order.amountSummary.tax is None and taxed:
        return "taxed items without a tax total"
    return None


def _order_lines(order: HlOrder) -> list[dict[str, Any]]:
    lines = [
        {
            "name": item.name,
            "quantity": format(item.qty, "f"),
            "unit_price": format(item.price.amount, "f"),
            "taxes": [
                {
                    "name": tax.name,
                    "rate": format(tax.rate, "f"),
                    "inclusive": tax.calculation == "inclusive",
                }
                for tax in (item.product.taxes if item.product else [])
            ],
        }
        for item in order.items
    ]
    assert order.amountSummary is not None
    if order.amountSummary.shipping > 0:
        # Shipping is part of what the customer paid; an untaxed line keeps the total exact.
        lines.append(
            {
                "name": "Shipping",
                "quantity": "1",
                "unit_price": money(order.amountSummary.shipping),
            }
        )
    return lines


def order_event(order: HlOrder, location_id: str, *, from_api: bool) -> Outcome:
    if order.status != "completed":
        return Ignored(f"order status {order.status!r} is not a completed payment")
    source = order.source
    if source is not None and source.type == "invoice":
        return Ignored("an invoice's order: the invoice events carry its payment")
    gap = _order_gap(order)
    if gap is not None:
        if from_api:
            return Ignored(f"HighLevel's own order lacks an exact total: {gap}")
        return NeedsFullObject("order", order.id, gap)
    contact = _order_contact(order)
    if contact is None:
        return Ignored("an order without a contact")
    summary = order.amountSummary
    assert summary is not None
    discount = {"type": "fixed", "value": money(summary.discount)} if summary.discount else None
    kind, sub_type = (source.type, source.subType) if source else (None, None)
    return validated(
        {
            "id": fact_id("order", order.id, order.updatedAt, order.status, order.amount),
            "type": "payment.succeeded",
            "occurred_at": order.updatedAt,
            "location_id": location_id,
            "data": {
                "id": order.id,
                "source": payment_source(kind, sub_type),
                "paid_at": order.updatedAt,
                "currency": order.currency,
                "contact": contact,
                "billing_email": contact.get("email"),
                "line_items": _order_lines(order),
                "discount": discount,
                "totals": {
                    "subtotal": money(summary.subtotal + summary.shipping),
                    "discount": money(summary.discount),
                    "tax": money(summary.tax or Decimal(0)),
                    "total": money(order.amount),
                },
                "payment_method": "HighLevel",
                "reference": f"HighLevel order {order.id} ({kind or '?'}/{sub_type or '?'})"[:500],
            },
        }
    )
