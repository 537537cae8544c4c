"""CRM contact -> the QBO Customer fields this service owns (S1). Pure."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.integrations.crm.schemas import Contact

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


def owned_fields(contact: Contact) -> dict[str, Any]:
    """The fields we write: name parts, company, phone, billing address, email."""
    fields: dict[str, Any] = {
        "GivenName": _clean(contact.first_name, _NAME_PART),
        "FamilyName": _clean(contact.last_name, _NAME_PART),
        "CompanyName": _clean(contact.company_name, _NAME_PART),
        "PrimaryEmailAddr": {"Address": contact.email} if contact.email else None,
        "PrimaryPhone": {"FreeFormNumber": contact.phone[:30]} if contact.phone else None,
    }
    address = contact.address
    if address is not None:
        fields["BillAddr"] = {
            key: value
            for key, value in {
                "Line1": address.line1,
                "Line2": address.line2,
                "City": address.city,
                "CountrySubDivisionCode": address.state,
                "PostalCode": address.postal_code,
                "Country": address.country,
            }.items()
            if value
        } or None
    return {key: value for key, value in fields.items() if value is not None}


def content_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
