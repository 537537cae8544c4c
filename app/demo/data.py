"""The demo's two companies and the CRM events it posts for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Company:
    """One demo location, its QBO company and what it posts."""

    location: str
    country: str
    label: str
    create: dict[str, Any]
    currency: str
    lines: list[dict[str, Any]]
    invoice_totals: dict[str, str]
    payment_lines: list[dict[str, Any]]
    payment_totals: dict[str, str]
    # Given back later from the order-form payment: a partial refund, split over its lines.
    refund_amount: str


_VAT = [{"name": "VAT", "rate": "20", "inclusive": False}]
COMPANIES = (
    Company(
        location="demo-us",
        country="US",
        label="Acme Plumbing (US, USD)",
        create={"country": "US", "name": "Acme Plumbing"},
        currency="USD",
        lines=[{"name": "Consulting", "quantity": 3, "unit_price": "9.99"}],
        invoice_totals={"subtotal": "29.97", "discount": "0.00", "tax": "0.00", "total": "29.97"},
        payment_lines=[{"name": "Consulting", "quantity": 1, "unit_price": "9.99"}],
        payment_totals={"subtotal": "9.99", "discount": "0.00", "tax": "0.00", "total": "9.99"},
        refund_amount="4.00",
    ),
    Company(
        location="demo-gb",
        country="GB",
        label="Thames Design Ltd (GB, GBP, VAT)",
        create={
            "country": "GB",
            "currency": "GBP",
            "name": "Thames Design Ltd",
            "tax_codes": [
                {"name": "20.0% S", "rate": "20"},
                {"name": "5.0% R", "rate": "5"},
                {"name": "No VAT", "rate": "0"},
            ],
        },
        currency="GBP",
        lines=[{"name": "Design", "quantity": 2, "unit_price": "50.00", "taxes": _VAT}],
        invoice_totals={
            "subtotal": "100.00",
            "discount": "0.00",
            "tax": "20.00",
            "total": "120.00",
        },
        payment_lines=[{"name": "Course", "quantity": 1, "unit_price": "40.00", "taxes": _VAT}],
        payment_totals={"subtotal": "40.00", "discount": "0.00", "tax": "8.00", "total": "48.00"},
        refund_amount="12.00",
    ),
)


def _contact(company: Company) -> dict[str, Any]:
    return {
        "id": f"{company.location}-contact-1",
        "email": f"jo@{company.location}.example.com",
        "first_name": "Jo",
        "last_name": "Example",
    }


def events(company: Company) -> list[dict[str, Any]]:
    # Full precision: an invoice created before the connection (same second) would be skipped.
    moment = datetime.now(UTC)
    today, now = moment.date().isoformat(), moment.isoformat()
    total = company.invoice_totals["total"]
    invoice = {
        "id": f"{company.location}-inv-1",
        "number": f"{company.country}-1001",
        "status": "sent",
        "issue_date": today,
        "due_date": today,
        "created_at": now,
        "updated_at": now,
        "currency": company.currency,
        "contact": _contact(company),
        "line_items": company.lines,
        "totals": company.invoice_totals | {"amount_paid": "0.00", "amount_due": total},
    }
    payment = {
        "id": f"{company.location}-pay-1",
        "source": "order_form",
        "paid_at": now,
        "currency": company.currency,
        "contact": _contact(company),
        "line_items": company.payment_lines,
        "totals": company.payment_totals,
        "payment_method": "card",
    }
    envelope = {"occurred_at": now, "location_id": company.location}
    return [
        {**envelope, "id": f"evt-{invoice['id']}", "type": "invoice.sent", "data": invoice},
        {**envelope, "id": f"evt-{payment['id']}", "type": "payment.succeeded", "data": payment},
    ]


def _invoice_event(
    company: Company, invoice: dict[str, Any], type_: str, at: datetime, **changes: Any
) -> dict[str, Any]:
    data = invoice | {"updated_at": at.isoformat()} | changes
    return {
        "id": f"evt-{invoice['id']}-{type_}-{at.timestamp()}",
        "type": type_,
        "occurred_at": at.isoformat(),
        "location_id": company.location,
        "data": data,
    }


def payments_events(company: Company, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """The first invoice paid in two parts: partially paid, then paid."""
    total = Decimal(company.invoice_totals["total"])
    half = (total / 2).quantize(Decimal("0.01"))
    later = datetime.now(UTC) + timedelta(seconds=1)
    totals = invoice["totals"]
    partial = totals | {"amount_paid": str(half), "amount_due": str(total - half)}
    paid = totals | {"amount_paid": str(total), "amount_due": "0.00"}
    return [
        _invoice_event(
            company,
            invoice,
            "invoice.partially_paid",
            later,
            status="partially_paid",
            totals=partial,
        ),
        _invoice_event(
            company,
            invoice,
            "invoice.paid",
            later + timedelta(seconds=1),
            status="paid",
            totals=paid,
        ),
    ]


def voided_events(company: Company, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """A second invoice, sent and then voided."""
    moment = datetime.now(UTC)
    second = invoice | {
        "id": f"{company.location}-inv-2",
        "number": f"{company.country}-1002",
        "created_at": moment.isoformat(),
    }
    voided_at = moment + timedelta(seconds=1)
    return [
        _invoice_event(company, second, "invoice.sent", moment),
        _invoice_event(company, second, "invoice.voided", voided_at, status="voided"),
    ]


def refund_events(company: Company) -> list[dict[str, Any]]:
    """Part of the order-form payment given back (`payment.refunded`)."""
    moment = datetime.now(UTC)
    refund = {
        "id": f"{company.location}-refund-1",
        "payment_id": f"{company.location}-pay-1",
        "refunded_at": moment.isoformat(),
        "currency": company.currency,
        "amount": company.refund_amount,
        "reason": "One item returned",
        "contact": _contact(company),
    }
    return [
        {
            "id": f"evt-{refund['id']}",
            "type": "payment.refunded",
            "occurred_at": moment.isoformat(),
            "location_id": company.location,
            "data": refund,
        }
    ]
