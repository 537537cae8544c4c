"""CRM contact -> the QBO Customer fields this service owns (S1). Pure."""

from __future__ import annotations

import hashlib
import json

from app.integrations.crm.schemas import Contact
from app.integrations.quickbooks.entities import (
    Customer,
    EmailAddress,
    PhysicalAddress,
    TelephoneNumber,
    for_write,
)

# QBO rejects these in names (qbo-api.md §6.1).
_FORBIDDEN = str.maketrans({":": "-", "\t": " ", "\n": " ", "\r": " "})
_NAME_PART = 100
_DISPLAY = 500


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(value.translate(_FORBIDDEN).split())
    return cleaned[:limit] or None


def display_name(contact: Contact) -> str:
    person = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    base = person or contact.company_name or contact.email or f"CRM contact {contact.id}"
    return _clean(base, _DISPLAY) or f"CRM contact {contact.id}"


def display_name_candidates(contact: Contact) -> list[str]:
    """Names to try in order when QBO says the name is taken (6240): readable, deterministic."""
    base = display_name(contact)
    suffixes = [contact.company_name, contact.email, contact.id]
    seen: list[str] = [base]
    for suffix in suffixes:
        if suffix:
            name = _clean(f"{base} ({suffix})", _DISPLAY)
            if name and name not in seen:
                seen.append(name)
    return seen


def _bill_address(contact: Contact) -> PhysicalAddress | None:
    address = contact.address
    if address is None:
        return None
    # Blank parts are left out, so that they do not erase what QBO has.
    parts = {
        "Line1": address.line1,
        "Line2": address.line2,
        "City": address.city,
        "CountrySubDivisionCode": address.state,
        "PostalCode": address.postal_code,
        "Country": address.country,
    }
    present = {key: value for key, value in parts.items() if value}
    return PhysicalAddress.model_validate(present) if present else None


def owned_fields(contact: Contact) -> Customer:
    """The fields we write (name parts, company, phone, billing address, email), and only those.

    Only what the contact has is set: a sparse update sends the set fields, so an empty CRM field
    leaves QBO's value alone.
    """
    fields = {
        "GivenName": _clean(contact.first_name, _NAME_PART),
        "FamilyName": _clean(contact.last_name, _NAME_PART),
        "CompanyName": _clean(contact.company_name, _NAME_PART),
        "PrimaryEmailAddr": EmailAddress(Address=contact.email) if contact.email else None,
        "PrimaryPhone": TelephoneNumber(FreeFormNumber=contact.phone[:30])
        if contact.phone
        else None,
        "BillAddr": _bill_address(contact),
    }
    present = {key: value for key, value in fields.items() if value is not None}
    return for_write(Customer.model_validate(present))


def customer_body(
    fields: Customer,
    *,
    display_name: str | None = None,
    customer_id: str | None = None,
    sync_token: str | None = None,
    reactivate: bool = False,
) -> Customer:
    """A create (with `display_name`) or a sparse update (with id and SyncToken) of our fields."""
    extra: dict[str, object] = {}
    if display_name is not None:
        extra["DisplayName"] = display_name
    if customer_id is not None:
        extra |= {"Id": customer_id, "SyncToken": sync_token}
    if reactivate:
        extra["Active"] = True
    return for_write(fields.model_copy(update=extra))


def content_hash(fields: Customer) -> str:
    """Hash of the fields we own, as sent; a link whose hash matches needs no update."""
    plain = fields.model_dump(by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
