"""CRM documents of a period, from the newest stored snapshot of each (pure).

What QBO should hold follows the flows: an invoice (S3) keeps the CRM's total and amount paid,
and a voided or deleted one is voided in QBO (QBO zeroes a voided document's amounts); a
payment that settles no invoice is a SalesReceipt (S2); a refund is a RefundReceipt or a
CreditMemo (app/sync/crm_to_qbo/refunds.py). A payment of a CRM invoice is not a document of
its own here: it is the invoice's amount paid, compared on the invoice's line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app.integrations.crm.schemas import (
    InvoiceEvent,
    InvoiceStatus,
    PaymentEvent,
    RefundEvent,
    validate_event,
)
from app.sync.reconcile.model import Document

ZERO = Decimal(0)


class UnreadableSnapshotError(ValueError):
    """A stored event this version's schema refuses (stored under looser checks)."""


def document_of(payload: dict[str, Any], deleted: frozenset[str] | set[str]) -> Document | None:
    """The document an event snapshot describes; None for a payment of a CRM invoice."""
    try:
        event = validate_event(payload)
    except ValidationError as exc:
        raise UnreadableSnapshotError(str(exc.error_count())) from None
    match event:
        case InvoiceEvent():
            data = event.data
            gone = data.status is InvoiceStatus.VOIDED or data.id in deleted
            return Document(
                kind="invoice",
                crm_id=data.id,
                label=data.number,
                day=data.issue_date,
                currency=data.currency.upper(),
                total=ZERO if gone else data.totals.total,
                amount_paid=ZERO if gone else data.totals.amount_paid,
                balance=ZERO if gone else data.totals.amount_due,
                voided=gone,
            )
        case PaymentEvent():
            payment = event.data
            if payment.invoice_id or payment.source == "invoice":
                return None
            return Document(
                kind="sales_receipt",
                crm_id=payment.id,
                label=payment.reference or payment.id,
                day=payment.paid_at.date(),
                currency=payment.currency.upper(),
                total=payment.totals.total,
            )
        case RefundEvent():
            refund = event.data
            return Document(
                kind="refund",
                crm_id=refund.id,
                label=refund.id,
                day=refund.refunded_at.date(),
                currency=refund.currency.upper(),
                total=refund.amount,
            )
        case _:
            return None
