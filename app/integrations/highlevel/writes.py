"""Writes to HighLevel's API for the QuickBooks → HighLevel direction.

Sources (GoHighLevel/highlevel-api-docs, apps/contacts.json):
- `POST /contacts/upsert` (`UpsertContactDto`, `locationId` required; firstName, lastName, name,
  email, phone, address1, city, state, postalCode, country, companyName, source,
  createNewIfDuplicateAllowed): it "will adhere to the configuration defined under the 'Allow
  Duplicate Contact' setting at the Location level" (the email/phone priority sequence) to find
  the contact to update; answers `UpsertContactsSuccessfulResponseDto`
  `{new, contact: {id, ...}, traceId}`.
- `PUT /contacts/{contactId}` (`UpdateContactDto`: the same fields without `locationId` and
  `companyName`).
- `POST /contacts/{contactId}/tags` (`TagsDTO` `{tags: [...]}`, answer 201 `{tags: [...]}`):
  its summary is "Add Tags" (the contact keeps its other tags).
Scopes (docs/oauth/Scopes.md): `contacts.write` for all three.

Invoices: HighLevel's `CreateInvoiceDto` (apps/invoices.json) has no field that marks an invoice
as imported or read-only; an invoice created through the API is a draft anyone may send, and its
`InvoiceSent` webhook would come back to us as a new CRM invoice. So imported QBO invoices are not
written to HighLevel (see app/sync/highlevel/outbound.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.integrations.highlevel.http import HighLevelHttp

# What `source` HighLevel shows on a contact we created (UpsertContactDto.source).
CONTACT_SOURCE = "QuickBooks (qbo-sync)"


@dataclass(frozen=True, slots=True)
class ContactFields:
    """A QBO customer as HighLevel names a contact's fields; None leaves a field as it is."""

    first_name: str | None
    last_name: str | None
    name: str | None
    company_name: str | None
    email: str | None
    phone: str | None
    address1: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    def body(self, *, for_update: bool = False) -> dict[str, Any]:
        values = {
            "firstName": self.first_name,
            "lastName": self.last_name,
            "name": self.name,
            "companyName": self.company_name,
            "email": self.email,
            "phone": self.phone,
            "address1": self.address1,
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": self.country,
        }
        if for_update:
            # UpdateContactDto (apps/contacts.json) has no companyName.
            values.pop("companyName")
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True, slots=True)
class UpsertedContact:
    contact_id: str
    created: bool


class HighLevelWrites:
    def __init__(self, http: HighLevelHttp) -> None:
        self._http = http

    async def upsert_contact(
        self, location_id: str, fields: ContactFields, *, token: str
    ) -> UpsertedContact:
        body = {
            "locationId": location_id,
            **fields.body(),
            "source": CONTACT_SOURCE,
            "createNewIfDuplicateAllowed": False,
        }
        answer = await self._http.post(
            "/contacts/upsert", token=token, json=body, location_id=location_id
        )
        contact = answer.get("contact") or {}
        contact_id = contact.get("id")
        if not isinstance(contact_id, str):
            raise ValueError("HighLevel's upsert answer has no contact id")
        return UpsertedContact(contact_id, bool(answer.get("new")))

    async def update_contact(
        self, location_id: str, contact_id: str, fields: ContactFields, *, token: str
    ) -> None:
        await self._http.put(
            f"/contacts/{contact_id}",
            token=token,
            json=fields.body(for_update=True),
            location_id=location_id,
        )

    async def add_tags(
        self, location_id: str, contact_id: str, tags: list[str], *, token: str
    ) -> list[str]:
        answer = await self._http.post(
            f"/contacts/{contact_id}/tags",
            token=token,
            json={"tags": tags},
            location_id=location_id,
        )
        return [str(tag) for tag in answer.get("tags") or []]
