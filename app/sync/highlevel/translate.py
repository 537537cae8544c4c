"""HighLevel objects → our envelope events (pure): an event, or why none.

The event id is derived from the fact, not the delivery: the same invoice state (id, updatedAt,
status, amountPaid) yields the same id whether a webhook or the backstop poller saw it, and a
HighLevel retry (the same payload, "re-send the same payload", help.gohighlevel.com article
155000007071 Automated Webhook Retries) yields it again, so the exactly-once intake stores it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError

from app.integrations.crm.schemas import CrmEventModel, validate_event
from app.integrations.highlevel.webhooks import HlInvoice, HlOrder

CENT = Decimal("0.01")
# HighLevel invoice status → (our event type, our status). `payment_processing` is a payment
# started but not settled: the invoice is sent, not paid.
_INVOICE_STATUS: dict[str, tuple[str, str]] = {
    "sent": ("invoice.sent", "sent"),
    "payment_processing": ("invoice.sent", "sent"),
    "viewed": ("invoice.sent", "viewed"),
    "overdue": ("invoice.sent", "overdue"),
    "partially_paid": ("invoice.partially_paid", "partially_paid"),
    "paid": ("invoice.paid", "paid"),
    "void": ("invoice.voided", "voided"),
}


@dataclass(frozen=True, slots=True)
class Translated:
    event: CrmEventModel


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


@dataclass(frozen=True, slots=True)
class NeedsFullObject:
    """The payload lacks what an exact total needs: read the object from HighLevel's API."""

    kind: str  # "invoice" or "order"
    object_id: str
    reason: str


Outcome = Translated | Ignored | NeedsFullObject


def fact_id(kind: str, *parts: object) -> str:
    digest = hashlib.sha256("\x1f".join([kind, *map(str, parts)]).encode()).hexdigest()
    return f"hl-{kind}-{digest[:40]}"


def _money(value: Decimal) -> str:
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def _day(text: str | None) -> str | None:
    # The webhook examples give YYYY-MM-DD; an API object may give a full timestamp.
    return text[:10] if text else None


def _address(
    line1: str | None,
    line2: str | None,
    city: str | None,
    state: str | None,
    postal: str | None,
    country: str | None,
) -> dict[str, Any] | None:
    fields = {
        "line1": line1,
        "line2": line2,
        "city": city,
        "state": state,
        "postal_code": postal,
        "country": country,
    }
    kept = {k: v for k, v in fields.items() if v}
    return kept or None


def _invoice_contact(invoice: HlInvoice) -> dict[str, Any]:
    details = invoice.contactDetails
    address = details.address
    # HighLevel's contactDetails has one `name`; it is not split (no rule says where).
    return {
        "id": details.id,
        "email": details.email,
        "first_name": details.name,
        "company_name": details.companyName,
        "phone": details.phoneNo,
        "address": _address(
            address.addressLine1,
            address.addressLine2,
            address.city,
            address.state,
            address.postalCode,
            address.countryCode,
        )
        if address
        else None,
    }


def _validated(document: dict[str, Any]) -> Outcome:
    try:
        return Translated(validate_event(document))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]
        )
        return Ignored(f"cannot be expressed as our event: {problems}")


def _invoice_gap(invoice: HlInvoice) -> str | None:
    """Why the payload alone cannot give an exact total, or None."""
    summary = invoice.totalSummary
    if summary is None:
        return "no totalSummary"
    if summary.tax is None:
        if invoice.automaticTaxesEnabled:
            return "automatic taxes without a tax total"
        if any(item.taxes for item in invoice.invoiceItems):
            return "taxed items without a tax total"
        if invoice.discount is not None and invoice.discount.validOnProductIds:
            return "a discount valid on some products only"
    return None


def _invoice_discount(invoice: HlInvoice) -> dict[str, Any] | Ignored | None:
    summary = invoice.totalSummary
    assert summary is not None
    if summary.discount == 0:
        # HighLevel's own total says nothing was taken off, whatever the discount field says.
        return None
    spec = invoice.discount
    restricted = spec is not None and bool(spec.validOnProductIds)
    if spec is not None and spec.type == "percentage" and not restricted:
        taken = (summary.subTotal * spec.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if taken == summary.discount:
            return {"type": "percentage", "value": format(spec.value, "f")}
    if restricted and any(item.taxes for item in invoice.invoiceItems):
        return Ignored("a discount on some products of a taxed invoice has no exact mapping")
    # HighLevel's computed amount, taken off the invoice as a whole: the same total to the cent.
    return {"type": "fixed", "value": _money(summary.discount)}


def invoice_event(invoice: HlInvoice, location_id: str, *, from_api: bool) -> Outcome:
    if invoice.status == "draft":
        return Ignored("draft invoice")
    event_id = fact_id("invoice", invoice.id, invoice.updatedAt, invoice.status, invoice.amountPaid)
    if invoice.status == "delete":
        return _validated(
            {
                "id": event_id,
                "type": "invoice.deleted",
                "occurred_at": invoice.updatedAt,
                "location_id": location_id,
                "data": {"id": invoice.id, "deleted_at": invoice.updatedAt},
            }
        )
    mapped = _INVOICE_STATUS.get(invoice.status)
    if mapped is None:
        return Ignored(f"invoice status {invoice.status!r} is not synced")
    gap = _invoice_gap(invoice)
    if gap is not None:
        if from_api:
            return Ignored(f"HighLevel's own invoice lacks an exact total: {gap}")
        return NeedsFullObject("invoice", invoice.id, gap)
    discount = _invoice_discount(invoice)
    if isinstance(discount, Ignored):
        return discount
    summary = invoice.totalSummary
    assert summary is not None
    event_type, status = mapped
    return _validated(
        {
            "id": event_id,
            "type": event_type,
            "occurred_at": invoice.updatedAt,
            "location_id": location_id,
            "data": {
                "id": invoice.id,
                "number": str(invoice.invoiceNumber),
                "status": status,
                "issue_date": _day(invoice.issueDate),
                "due_date": _day(invoice.dueDate),
                "created_at": invoice.createdAt,
                "updated_at": invoice.updatedAt,
                "currency": invoice.currency,
                "contact": _invoice_contact(invoice),
                "billing_email": invoice.contactDetails.email,
                "line_items": [
                    {
                        "name": item.name,
                        "description": item.description,
                        "quantity": format(item.qty, "f"),
                        "unit_price": format(item.amount, "f"),
                        "taxes": [
                            {
                                "name": tax.name,
                                "rate": format(tax.rate, "f"),
                                "inclusive": bool(item.taxInclusive),
                            }
                            for tax in item.taxes
                        ],
                    }
                    for item in invoice.invoiceItems
                ],
                "discount": discount,
                "totals": {
                    "subtotal": _money(summary.subTotal),
                    "discount": _money(summary.discount),
                    "tax": _money(summary.tax or Decimal(0)),
                    "total": _money(invoice.total),
                    "amount_paid": _money(invoice.amountPaid),
                    "amount_due": _money(invoice.amountDue),
                },
            },
        }
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
        "address": _address(
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
                "unit_price": _money(order.amountSummary.shipping),
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
    discount = {"type": "fixed", "value": _money(summary.discount)} if summary.discount else None
    kind, sub_type = (source.type, source.subType) if source else (None, None)
    return _validated(
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
                    "subtotal": _money(summary.subtotal + summary.shipping),
                    "discount": _money(summary.discount),
                    "tax": _money(summary.tax or Decimal(0)),
                    "total": _money(order.amount),
                },
                "payment_method": "HighLevel",
                "reference": f"HighLevel order {order.id} ({kind or '?'}/{sub_type or '?'})"[:500],
            },
        }
    )


def contact_event(document: dict[str, Any], location_id: str) -> Outcome:
    contact_id = document.get("id")
    if not isinstance(contact_id, str) or not contact_id:
        return Ignored("a contact without an id")
    # Contacts are not polled; the delivery's own id (a retry repeats it) or the body decides.
    marker = (
        document.get("webhookId")
        or hashlib.sha256(repr(sorted(document.items())).encode()).hexdigest()
    )
    return _validated(
        {
            "id": fact_id("contact", contact_id, marker),
            "type": "contact.updated",
            "occurred_at": document.get("dateUpdated")
            or document.get("timestamp")
            or document.get("dateAdded"),
            "location_id": location_id,
            "data": {
                "id": contact_id,
                "email": document.get("email"),
                "first_name": document.get("firstName"),
                "last_name": document.get("lastName"),
                "company_name": document.get("companyName"),
                "phone": document.get("phone"),
                "address": _address(
                    document.get("address1"),
                    None,
                    document.get("city"),
                    document.get("state"),
                    document.get("postalCode"),
                    document.get("country"),
                ),
            },
        }
    )
