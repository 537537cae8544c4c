"""CRM contact -> the QBO Customer fields this service owns (S1). Pure.

Every text is made to fit first (app/sync/mapping/customer_text.py): QBO refuses a customer for
one field that is too long, and that would hold back every invoice of the contact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from app.integrations.crm.schemas import Contact
from app.integrations.quickbooks.entities import (
    Customer,
    EmailAddress,
    PhysicalAddress,
    TelephoneNumber,
    for_write,
)
from app.sync.mapping.customer_text import MAX_LENGTH, Fitted, shorten

_DISPLAY = MAX_LENGTH["DisplayName"]
_PRINT_ON_CHECK = MAX_LENGTH["PrintOnCheckName"]
# A disambiguating suffix (company, email, CRM id) is itself kept short, so that the readable
# name before it survives in a 500-character DisplayName.
_SUFFIX = 100


@dataclass(frozen=True)
class MappedContact:
    """The fields we own for a contact, and a note for every text changed to fit QBO."""

    fields: Customer
    notes: list[str] = field(default_factory=list)


def display_name(contact: Contact) -> str:
    person = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    base = person or contact.company_name or contact.email or f"CRM contact {contact.id}"
    return Fitted().name("DisplayName", base) or f"CRM contact {contact.id}"


def display_name_candidates(contact: Contact) -> list[str]:
    """Names to try in order when QBO says the name is taken (6240): readable, deterministic."""
    base = display_name(contact)
    suffixes = [contact.company_name, contact.email, contact.id]
    seen: list[str] = [base]
    for suffix in suffixes:
        short = Fitted().name("DisplayName", suffix)
        if not short:
            continue
        tail = f" ({shorten(short, _SUFFIX)})"
        name = f"{shorten(base, _DISPLAY - len(tail))}{tail}"
        if name not in seen:
            seen.append(name)
    return seen


def _bill_address(contact: Contact, fitted: Fitted) -> PhysicalAddress | None:
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
    present = {
        key: fitted.text(f"BillAddr.{key}", value, limit=MAX_LENGTH[key])
        for key, value in parts.items()
        if value
    }
    return PhysicalAddress.model_validate(present) if present else None


def map_contact(contact: Contact) -> MappedContact:
    """The fields we write (name parts, company, phone, billing address, email), and only those.

    Only what the contact has is set: a sparse update sends the set fields, so an empty CRM field
    leaves QBO's value alone. A contact whose texts all fit maps exactly as before these rules,
    so its stored `content_hash` still matches.
    """
    fitted = Fitted()
    email = fitted.email("PrimaryEmailAddr", contact.email)
    phone = fitted.phone("PrimaryPhone", contact.phone)
    values = {
        "GivenName": fitted.name("GivenName", contact.first_name),
        "FamilyName": fitted.name("FamilyName", contact.last_name),
        "CompanyName": fitted.name("CompanyName", contact.company_name),
        "PrimaryEmailAddr": EmailAddress(Address=email) if email else None,
        "PrimaryPhone": TelephoneNumber(FreeFormNumber=phone) if phone else None,
        "BillAddr": _bill_address(contact, fitted),
    }
    present = {key: value for key, value in values.items() if value is not None}
    return MappedContact(for_write(Customer.model_validate(present)), fitted.notes)


def owned_fields(contact: Contact) -> Customer:
    return map_contact(contact).fields


def customer_body(
    fields: Customer,
    *,
    display_name: str | None = None,
    customer_id: str | None = None,
    sync_token: str | None = None,
    reactivate: bool = False,
    notes: str | None = None,
) -> Customer:
    """A create (with `display_name`) or a sparse update (with id and SyncToken) of our fields.

    A create may carry `notes` (our marker, the second guard's evidence). QBO fills
    PrintOnCheckName from DisplayName, but takes only 110 characters there: a longer name
    gets its own shortened PrintOnCheckName.
    """
    extra: dict[str, object] = {}
    if display_name is not None:
        extra["DisplayName"] = display_name
        if len(display_name) > _PRINT_ON_CHECK:
            extra["PrintOnCheckName"] = shorten(display_name, _PRINT_ON_CHECK)
    if notes is not None:
        extra["Notes"] = shorten(notes, MAX_LENGTH["Notes"])
    if customer_id is not None:
        extra |= {"Id": customer_id, "SyncToken": sync_token}
    if reactivate:
        extra["Active"] = True
    return for_write(fields.model_copy(update=extra))


def content_hash(fields: Customer) -> str:
    """Hash of the fields we own, as sent; a link whose hash matches needs no update."""
    plain = fields.model_dump(by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
