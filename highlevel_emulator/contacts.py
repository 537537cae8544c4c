"""Contacts: the API document (apps/contacts.json `GetContectByIdSchema`) and the webhook payload
(docs/webhook events/ContactCreate.md, ContactUpdate.md)."""

from __future__ import annotations

from typing import Any

from highlevel_emulator.state import HighLevelEmulator

# Fields a caller may set (apps/contacts.json `UpsertContactDto`, the ones that matter here).
CONTACT_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "website",
    "source",
    "tags",
    "dnd",
)
# The keys of ContactCreate.md's example, in its order.
_EVENT_KEYS = (
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dnd",
    "email",
    "name",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "tags",
    "website",
    "attachments",
    "customFields",
)


class ContactError(ValueError):
    pass


def check_fields(body: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in body if k not in CONTACT_FIELDS]
    if unknown:
        raise ContactError(f"unknown contact fields: {unknown}")
    if "tags" in body and not (
        isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
    ):
        raise ContactError("tags must be a list of strings")
    return body


def _derive_names(doc: dict[str, Any]) -> None:
    if doc.get("firstName") or doc.get("lastName"):
        doc["name"] = " ".join(p for p in (doc.get("firstName"), doc.get("lastName")) if p)
    if doc.get("email"):
        doc["emailLowerCase"] = str(doc["email"]).lower()


def create(emu: HighLevelEmulator, location_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    now = emu.iso_now()
    doc: dict[str, Any] = {"id": emu.short_id(), "locationId": location_id, "tags": []}
    doc.update({"dnd": False, "type": "lead", "customFields": [], "attachments": []})
    doc.update(fields)
    doc["tags"] = list(dict.fromkeys(doc["tags"]))
    doc.update({"dateAdded": now, "dateUpdated": now})
    _derive_names(doc)
    emu.store.contacts[location_id][doc["id"]] = doc
    return doc


def update(emu: HighLevelEmulator, doc: dict[str, Any], fields: dict[str, Any]) -> None:
    doc.update(fields)
    doc["tags"] = list(dict.fromkeys(doc.get("tags", [])))
    doc["dateUpdated"] = emu.iso_now()
    _derive_names(doc)


def find_by_email(emu: HighLevelEmulator, location_id: str, email: str) -> dict[str, Any] | None:
    wanted = email.lower()
    for doc in emu.store.contacts.get(location_id, {}).values():
        if doc.get("emailLowerCase") == wanted:
            return doc
    return None


def find_by_phone(emu: HighLevelEmulator, location_id: str, phone: str) -> dict[str, Any] | None:
    for doc in emu.store.contacts.get(location_id, {}).values():
        if doc.get("phone") == phone:
            return doc
    return None


def event_payload(event_type: str, doc: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": event_type, "locationId": doc["locationId"], "id": doc["id"]}
    for key in _EVENT_KEYS:
        if key in doc:
            payload[key] = doc[key]
    return payload


def emit(emu: HighLevelEmulator, event_type: str, doc: dict[str, Any]) -> str:
    return emu.webhooks.emit(doc["locationId"], event_type, event_payload(event_type, doc))


def snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """`contactSnapshot` of an order (docs/webhook events/OrderStatusUpdate.md example)."""
    keys: tuple[str, ...] = ("id", "locationId", "firstName", "lastName", "email", "phone")
    keys += ("dnd", "source", "address1", "city", "state", "postalCode", "tags", "country")
    keys += ("dateAdded",)
    return {k: doc[k] for k in keys if k in doc}
