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
from app.integrations.highlevel.webhooks import HlInvoice

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


def money(value: Decimal) -> str:
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def _day(text: str | None) -> str | None:
    # The webhook examples give YYYY-MM-DD; an API object may give a full timestamp.
    return text[:10] if text else None


def address(
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
    where = details.address
    # HighLevel's contactDetails has one `name`; it is not split (no rule says where).
    return {
        "id": details.id,
        "email": details.email,
        "first_name": details.name,
        "company_name": details.companyName,
        "phone": details.phoneNo,
        "address": address(
            where.addressLine1,
            where.addressLine2,
            where.city,
            where.state,
            where.postalCode,
            where.countryCode,
        )
        if where
        else None,
    }


def validated(document: dict[str, Any]) -> Outcome:
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
    return {"type": "fixed", "value": money(summary.discount)}


def invoice_event(invoice: HlInvoice, location_id: str, *, from_api: bool) -> Outcome:
    if invoice.status == "draft":
        return Ignored("draft invoice")
    event_id = fact_id("invoice", invoice.id, invoice.updatedAt, invoice.status, invoice.amountPaid)
    if invoice.status == "delete":
        return validated(
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
    return validated(
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
                    "subtotal": money(summary.subTotal),
                    "discount": money(summary.discount),
                    "tax": money(summary.tax or Decimal(0)),
                    "total": money(invoice.total),
                    "amount_paid": money(invoice.amountPaid),
                    "amount_due": money(invoice.amountDue),
                },
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
    return validated(
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
                "address": address(
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
