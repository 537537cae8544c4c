"""QBO objects -> the records the CRM receives in callbacks (Q1, Q3). Pure, no I/O.

Money goes out as decimal strings (callbacks are JSON for the CRM, and JSONB rows hold them).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _money(value: Any) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)))


def contact_record(customer: dict[str, Any]) -> dict[str, Any]:
    """The CRM's view of a QBO Customer: what `contact.upsert` carries."""
    address = customer.get("BillAddr") or {}
    return {
        "qbo_customer_id": customer.get("Id"),
        "display_name": customer.get("DisplayName"),
        "first_name": customer.get("GivenName"),
        "last_name": customer.get("FamilyName"),
        "company_name": customer.get("CompanyName"),
        "email": _get(customer, "PrimaryEmailAddr", "Address"),
        "phone": _get(customer, "PrimaryPhone", "FreeFormNumber"),
        "address": {
            "line1": address.get("Line1"),
            "line2": address.get("Line2"),
            "city": address.get("City"),
            "state": address.get("CountrySubDivisionCode"),
            "postal_code": address.get("PostalCode"),
            "country": address.get("Country"),
        }
        if address
        else None,
        "active": customer.get("Active", True) is not False,
    }


def _invoice_status(invoice: dict[str, Any]) -> str:
    total = Decimal(str(invoice.get("TotalAmt", "0")))
    balance = Decimal(str(invoice.get("Balance", "0")))
    if "Voided" in (invoice.get("PrivateNote") or "") and total == 0:
        return "voided"
    if total > 0 and balance == 0:
        return "paid"
    if 0 < balance < total:
        return "partially_paid"
    return "sent"


def invoice_record(invoice: dict[str, Any]) -> dict[str, Any]:
    """The CRM's view of a QBO Invoice: what `invoice.import` carries (read-only in the CRM)."""
    lines = [
        {
            "name": _get(line, "SalesItemLineDetail", "ItemRef", "name") or line.get("Description"),
            "description": line.get("Description"),
            "quantity": _money(_get(line, "SalesItemLineDetail", "Qty")),
            "unit_price": _money(_get(line, "SalesItemLineDetail", "UnitPrice")),
            "amount": _money(line.get("Amount")),
        }
        for line in invoice.get("Line") or []
        if line.get("DetailType") == "SalesItemLineDetail"
    ]
    total = _money(invoice.get("TotalAmt")) or "0"
    balance = _money(invoice.get("Balance")) or "0"
    return {
        "qbo_invoice_id": invoice.get("Id"),
        "number": invoice.get("DocNumber"),
        "issue_date": invoice.get("TxnDate"),
        "due_date": invoice.get("DueDate"),
        "status": _invoice_status(invoice),
        "currency": _get(invoice, "CurrencyRef", "value"),
        "qbo_customer_id": _get(invoice, "CustomerRef", "value"),
        "customer_name": _get(invoice, "CustomerRef", "name"),
        "billing_email": _get(invoice, "BillEmail", "Address"),
        "line_items": lines,
        "totals": {
            "tax": _money(_get(invoice, "TxnTaxDetail", "TotalTax")) or "0",
            "total": total,
            "balance": balance,
            "amount_paid": str(Decimal(total) - Decimal(balance)),
        },
    }


def record_hash(record: dict[str, Any]) -> str:
    """Hash of what the CRM sees: a change the CRM cannot see produces no callback."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
