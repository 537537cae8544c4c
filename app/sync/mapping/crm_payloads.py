"""QBO objects -> the records the CRM receives, and each callback built in one place (Q1-Q3).

Pure, no I/O. The callback models live with the CRM contract (app/integrations/crm/
callback_payloads.py); here is how this service fills them. `record_hash` is over a record's
JSON as the CRM sees it: a change the CRM cannot see produces no callback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.integrations.crm.callback_payloads import (
    ConnectionStatusCallback,
    ContactAddress,
    ContactChange,
    ContactRecord,
    ContactUpsertCallback,
    DeletedContactChange,
    DeletedContactRecord,
    DeletedInvoiceRecord,
    ImportKindProgress,
    ImportReport,
    InvoiceImportCallback,
    InvoiceLineRecord,
    InvoiceRecord,
    InvoiceRecordTotals,
    InvoiceStatusText,
    ReviewRequestCallback,
)
from app.integrations.quickbooks.entities import Customer, PhysicalAddress
from app.integrations.quickbooks.transactions import SALES_ITEM, Invoice, Line
from app.models import Connection
from app.sync.mapping.customer_text import without_deleted_suffix

ZERO = Decimal(0)
Record = ContactRecord | DeletedContactRecord | InvoiceRecord | DeletedInvoiceRecord


def _address(address: PhysicalAddress | None) -> ContactAddress | None:
    # An address QBO sends with nothing in it is no address.
    if address is None or not address.model_dump(exclude_none=True):
        return None
    return ContactAddress(
        line1=address.Line1,
        line2=address.Line2,
        city=address.City,
        state=address.CountrySubDivisionCode,
        postal_code=address.PostalCode,
        country=address.Country,
    )


def contact_record(customer: Customer) -> ContactRecord:
    """The CRM's view of a QBO Customer: what `contact.upsert` carries."""
    return ContactRecord(
        qbo_customer_id=customer.Id,
        # An inactive customer reads back as "Name (deleted)"; the CRM gets its name.
        display_name=without_deleted_suffix(customer.DisplayName, customer.Active),
        first_name=customer.GivenName,
        last_name=customer.FamilyName,
        company_name=customer.CompanyName,
        email=customer.PrimaryEmailAddr.Address if customer.PrimaryEmailAddr else None,
        phone=customer.PrimaryPhone.FreeFormNumber if customer.PrimaryPhone else None,
        address=_address(customer.BillAddr),
        active=customer.Active is not False,
    )


def deleted_contact_record(customer_id: str) -> DeletedContactRecord:
    return DeletedContactRecord(qbo_customer_id=customer_id)


def contacts_imported(records: Sequence[ContactRecord]) -> ContactUpsertCallback:
    """A page of the initial import; `import: true` holds back the CRM's new-contact automations."""
    return ContactUpsertCallback(import_=True, contacts=list(records))


def contact_changed(
    record: ContactRecord | DeletedContactRecord, crm_contact_id: str | None, merged_from: list[str]
) -> ContactUpsertCallback:
    """One QBO customer changed (or merged, or deleted) after the import."""
    contact: ContactChange | DeletedContactChange
    if isinstance(record, DeletedContactRecord):
        contact = DeletedContactChange(
            qbo_customer_id=record.qbo_customer_id,
            crm_contact_id=crm_contact_id,
            merged_from=merged_from,
        )
    else:
        contact = ContactChange(
            **dict(record), crm_contact_id=crm_contact_id, merged_from=merged_from
        )
    return ContactUpsertCallback(import_=False, contacts=[contact])


def _or_zero(value: Decimal | None) -> Decimal:
    return ZERO if value is None else value


def _invoice_status(invoice: Invoice) -> InvoiceStatusText:
    total, balance = _or_zero(invoice.TotalAmt), _or_zero(invoice.Balance)
    if "Voided" in (invoice.PrivateNote or "") and total == 0:
        return "voided"
    if total > 0 and balance == 0:
        return "paid"
    if 0 < balance < total:
        return "partially_paid"
    return "sent"


def _line_record(line: Line) -> InvoiceLineRecord:
    detail = line.SalesItemLineDetail
    item_name = detail.ItemRef.name if detail is not None and detail.ItemRef else None
    return InvoiceLineRecord(
        name=item_name or line.Description,
        description=line.Description,
        quantity=detail.Qty if detail is not None else None,
        unit_price=detail.UnitPrice if detail is not None else None,
        amount=line.Amount,
    )


def invoice_record(invoice: Invoice) -> InvoiceRecord:
    """The CRM's view of a QBO Invoice: what `invoice.import` carries (read-only in the CRM)."""
    total, balance = _or_zero(invoice.TotalAmt), _or_zero(invoice.Balance)
    tax = invoice.TxnTaxDetail.TotalTax if invoice.TxnTaxDetail is not None else None
    return InvoiceRecord(
        qbo_invoice_id=invoice.Id,
        number=invoice.DocNumber,
        issue_date=invoice.TxnDate,
        due_date=invoice.DueDate,
        status=_invoice_status(invoice),
        currency=invoice.CurrencyRef.value if invoice.CurrencyRef else None,
        qbo_customer_id=invoice.CustomerRef.value if invoice.CustomerRef else None,
        customer_name=invoice.CustomerRef.name if invoice.CustomerRef else None,
        billing_email=invoice.BillEmail.Address if invoice.BillEmail else None,
        line_items=[
            _line_record(line) for line in invoice.Line or [] if line.DetailType == SALES_ITEM
        ],
        totals=InvoiceRecordTotals(
            tax=_or_zero(tax),
            total=total,
            balance=balance,
            amount_paid=total - balance,
        ),
    )


def deleted_invoice_record(invoice_id: str) -> DeletedInvoiceRecord:
    return DeletedInvoiceRecord(qbo_invoice_id=invoice_id)


def invoices_imported(records: Sequence[InvoiceRecord]) -> InvoiceImportCallback:
    """A page of the initial import (no `import` key: the CRM has always received it so)."""
    return InvoiceImportCallback(invoices=list(records))


def invoice_changed(record: InvoiceRecord | DeletedInvoiceRecord) -> InvoiceImportCallback:
    """A later change of an invoice that came from the import."""
    return InvoiceImportCallback(import_=False, invoices=[record])


def review_request(
    *,
    customer_id: str,
    customer: Customer,
    invoice_id: str,
    crm_contact_id: str | None,
    paid_date: date,
) -> ReviewRequestCallback:
    """Ask the CRM to send the customer a review request for its first fully paid invoice."""
    return ReviewRequestCallback(
        qbo_customer_id=customer_id,
        qbo_invoice_id=invoice_id,
        crm_contact_id=crm_contact_id,
        email=customer.PrimaryEmailAddr.Address if customer.PrimaryEmailAddr else None,
        name=without_deleted_suffix(customer.DisplayName, customer.Active),
        paid_date=paid_date,
    )


def connection_status(
    connection: Connection, *, with_import: bool = False, error: str | None = None
) -> ConnectionStatusCallback:
    """The connection's status as GET shows it; the initial import's state and progress too."""
    report = None
    if with_import:
        report = ImportReport(
            state=connection.import_state,
            progress={
                kind: ImportKindProgress.model_validate(entry)
                for kind, entry in connection.import_progress.items()
            },
            error=error,
        )
    return ConnectionStatusCallback(
        location_id=connection.location_id,
        realm_id=connection.realm_id,
        status=connection.status,
        reason=connection.status_reason,
        import_=report,
        at=datetime.now(UTC),
    )


def record_hash(record: Record | Mapping[str, Any]) -> str:
    """Hash of what the CRM sees of a record (its JSON, keys sorted); stored as `crm_hash`."""
    plain = record if isinstance(record, Mapping) else record.model_dump(mode="json")
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
