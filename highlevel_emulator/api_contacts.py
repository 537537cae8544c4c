"""Contacts API (apps/contacts.json): upsert, advanced search, duplicate search, get, add tags,
and the deprecated list. Changes made through the API fire the webhooks a change in HighLevel
fires (`api_writes_fire_webhooks`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from highlevel_emulator import contacts
from highlevel_emulator.auth import Caller, emu_of, own_location
from highlevel_emulator.errors import APIError, api_body, json_response, not_found, unprocessable
from highlevel_emulator.state import HighLevelEmulator

router = APIRouter()


def _fire(emu: HighLevelEmulator, event_type: str, doc: dict[str, Any]) -> None:
    if emu.config.api_writes_fire_webhooks:
        contacts.emit(emu, event_type, doc)


@router.post("/contacts/upsert")
async def upsert(request: Request, grant: Caller) -> JSONResponse:
    body = await api_body(request)
    emu = emu_of(request)
    location_id = own_location(grant, body.get("locationId"))
    fields = {k: v for k, v in body.items() if k != "locationId"}
    fields.pop("createNewIfDuplicateAllowed", None)
    try:
        contacts.check_fields(fields)
    except contacts.ContactError as exc:
        raise unprocessable([str(exc)]) from exc
    # Match by email, then phone: the docs' upsert follows the location's "Allow Duplicate
    # Contact" priority, whose default order is UNKNOWN (README).
    found = None
    if fields.get("email"):
        found = contacts.find_by_email(emu, location_id, str(fields["email"]))
    if found is None and fields.get("phone"):
        found = contacts.find_by_phone(emu, location_id, str(fields["phone"]))
    if found is None:
        doc = contacts.create(emu, location_id, fields)
        _fire(emu, "ContactCreate", doc)
    else:
        contacts.update(emu, found, fields)
        doc = found
        _fire(emu, "ContactUpdate", doc)
    return json_response({"new": found is None, "contact": doc, "traceId": str(uuid.uuid4())})


def _matches(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    field, op, value = flt.get("field"), flt.get("operator", "eq"), flt.get("value")
    have = doc.get(str(field))
    if field == "email" and isinstance(value, str):
        have, value = doc.get("emailLowerCase"), value.lower()
    if isinstance(have, list):
        return value in have if op in ("eq", "contains") else value not in have
    if op == "eq":
        return have == value
    if op == "not_eq":
        return have != value
    if op == "contains":
        return isinstance(have, str) and isinstance(value, str) and value.lower() in have.lower()
    raise unprocessable([f"operator {op} is not modelled"])


def _query_hit(doc: dict[str, Any], query: str) -> bool:
    text = " ".join(str(doc.get(k, "")) for k in ("name", "email", "phone", "companyName"))
    return query.lower() in text.lower()


@router.post("/contacts/search")
async def search(request: Request, grant: Caller) -> JSONResponse:
    """UNKNOWN (README): apps/contacts.json leaves `SearchBodyV2DTO` empty and links an external
    page; the stand-in reads locationId, query, filters [{field, operator, value}], page, pageLimit
    and answers {contacts, total}."""
    body = await api_body(request)
    emu = emu_of(request)
    location_id = own_location(grant, body.get("locationId"))
    found = list(emu.store.contacts[location_id].values())
    if body.get("query"):
        found = [d for d in found if _query_hit(d, str(body["query"]))]
    for flt in body.get("filters") or []:
        if not isinstance(flt, dict):
            raise unprocessable(["a filter is {field, operator, value}"])
        found = [d for d in found if _matches(d, flt)]
    size = int(body.get("pageLimit", 20))
    page = int(body.get("page", 1))
    chunk = found[(page - 1) * size : page * size]
    return json_response({"contacts": chunk, "total": len(found)})


@router.get("/contacts/search/duplicate")
async def duplicate(
    request: Request,
    grant: Caller,
    locationId: str,  # noqa: N803 - HighLevel's parameter name
    email: str | None = None,
    number: str | None = None,
) -> JSONResponse:
    emu = emu_of(request)
    location_id = own_location(grant, locationId)
    found = contacts.find_by_email(emu, location_id, email) if email else None
    if found is None and number:
        found = contacts.find_by_phone(emu, location_id, number)
    return json_response({"contact": found})


def _contact(emu: HighLevelEmulator, grant: Any, contact_id: str) -> dict[str, Any]:
    doc = emu.store.contacts.get(grant.location_id, {}).get(contact_id)
    if doc is None:
        raise not_found("Contact")
    return doc


@router.get("/contacts/{contact_id}")
async def get_contact(request: Request, grant: Caller, contact_id: str) -> JSONResponse:
    return json_response({"contact": _contact(emu_of(request), grant, contact_id)})


@router.post("/contacts/{contact_id}/tags")
async def add_tags(request: Request, grant: Caller, contact_id: str) -> JSONResponse:
    body = await api_body(request)
    emu = emu_of(request)
    doc = _contact(emu, grant, contact_id)
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise unprocessable(["tags must be an array of strings"])
    before = list(doc["tags"])
    contacts.update(emu, doc, {"tags": before + tags})
    if doc["tags"] != before:
        # docs/webhook events/ContactTagUpdate.md is the event for a tag change.
        _fire(emu, "ContactTagUpdate", doc)
    # apps/contacts.json add-tags answers 201 CreateAddTagSuccessfulResponseDto {tags}.
    return json_response({"tags": doc["tags"]}, status=201)


@router.put("/contacts/{contact_id}")
async def update_contact(request: Request, grant: Caller, contact_id: str) -> JSONResponse:
    """apps/contacts.json "Update Contact": `UpdateContactDto` (no locationId, no companyName),
    answer `UpdateContactsSuccessfulResponseDto` `{succeded, contact}` (HighLevel's spelling)."""
    body = await api_body(request)
    emu = emu_of(request)
    doc = _contact(emu, grant, contact_id)
    if "companyName" in body or "locationId" in body:
        raise unprocessable(["companyName and locationId are not fields of UpdateContactDto"])
    try:
        contacts.check_fields(body)
    except contacts.ContactError as exc:
        raise unprocessable([str(exc)]) from exc
    contacts.update(emu, doc, body)
    _fire(emu, "ContactUpdate", doc)
    return json_response({"succeded": True, "contact": doc})


@router.get("/contacts/")
async def list_contacts(
    request: Request,
    grant: Caller,
    locationId: str,  # noqa: N803 - HighLevel's parameter name
    query: str | None = None,
    limit: int = 20,
) -> JSONResponse:
    """Deprecated in the docs in favour of search; kept because the docs still list it."""
    emu = emu_of(request)
    location_id = own_location(grant, locationId)
    if limit > 100:
        raise APIError(422, ["limit must not be greater than 100"], "Unprocessable Entity")
    found = [
        d for d in emu.store.contacts[location_id].values() if not query or _query_hit(d, query)
    ]
    return json_response({"contacts": found[:limit], "count": len(found)})
