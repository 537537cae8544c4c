"""Control API, part two: what people do in HighLevel with contacts and invoices, each firing
the webhook HighLevel documents for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from highlevel_emulator import contacts, invoices, orders
from highlevel_emulator.control import location_of
from highlevel_emulator.errors import ControlError, control_body, json_response
from highlevel_emulator.money import AmountError, amount, cents
from highlevel_emulator.oauth import emulator
from highlevel_emulator.state import HighLevelEmulator

router = APIRouter(prefix="/_emulator/locations/{location_id}", tags=["control"])


def bad(exc: Exception) -> ControlError:
    return ControlError(400, str(exc))


def contact_of(emu: HighLevelEmulator, location_id: str, contact_id: Any) -> dict[str, Any]:
    doc = emu.store.contacts[location_id].get(str(contact_id))
    if doc is None:
        raise ControlError(404, f"unknown contact {contact_id}")
    return doc


def _invoice(emu: HighLevelEmulator, location_id: str, invoice_id: str) -> dict[str, Any]:
    location_of(emu, location_id)
    doc = emu.store.invoices[location_id].get(invoice_id)
    if doc is None:
        raise ControlError(404, f"unknown invoice {invoice_id}")
    return doc


def money_of(body: dict[str, Any], key: str) -> Decimal | None:
    if body.get(key) is None:
        return None
    try:
        value = cents(amount(body[key]))
    except AmountError as exc:
        raise bad(exc) from exc
    if value <= 0:
        raise ControlError(400, f"{key} must be more than 0")
    return value


@router.post("/contacts")
async def create_contact(request: Request, location_id: str) -> Any:
    body = await control_body(request)
    emu = emulator(request)
    location_of(emu, location_id)
    try:
        doc = contacts.create(emu, location_id, contacts.check_fields(body))
    except contacts.ContactError as exc:
        raise bad(exc) from exc
    contacts.emit(emu, "ContactCreate", doc)
    return json_response(doc, status=201)


@router.patch("/contacts/{contact_id}")
async def patch_contact(request: Request, location_id: str, contact_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    location_of(emu, location_id)
    doc = contact_of(emu, location_id, contact_id)
    try:
        contacts.update(emu, doc, contacts.check_fields(body))
    except contacts.ContactError as exc:
        raise bad(exc) from exc
    contacts.emit(emu, "ContactUpdate", doc)
    return json_response(doc)


@router.get("/contacts")
async def list_contacts(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location_of(emu, location_id)
    return json_response({"contacts": list(emu.store.contacts[location_id].values())})


@router.post("/invoices")
async def create_invoice(request: Request, location_id: str) -> Any:
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    contact = contact_of(emu, location_id, body.get("contact_id"))
    try:
        doc = invoices.create(emu, location, contact, body)
    except invoices.InvoiceError as exc:
        raise bad(exc) from exc
    invoices.emit(emu, "InvoiceCreate", doc)
    return json_response(doc, status=201)


def _state(doc: dict[str, Any], allowed: tuple[str, ...], action: str) -> None:
    if doc["status"] not in allowed:
        raise ControlError(409, f"cannot {action} an invoice that is {doc['status']}")


@router.post("/invoices/{invoice_id}/send")
async def send_invoice(request: Request, location_id: str, invoice_id: str) -> JSONResponse:
    emu = emulator(request)
    doc = _invoice(emu, location_id, invoice_id)
    _state(doc, ("draft", "sent"), "send")
    doc["status"] = "sent"
    doc["updatedAt"] = emu.iso_now()
    invoices.emit(emu, "InvoiceSent", doc)
    return json_response(doc)


@router.patch("/invoices/{invoice_id}")
async def edit_invoice(request: Request, location_id: str, invoice_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    doc = _invoice(emu, location_id, invoice_id)
    _state(doc, ("draft", "sent"), "edit")
    try:
        invoices.edit(emu, doc, body)
    except (invoices.InvoiceError, AmountError) as exc:
        raise bad(exc) from exc
    invoices.emit(emu, "InvoiceUpdate", doc)
    return json_response(doc)


@router.post("/invoices/{invoice_id}/pay")
async def pay_invoice(request: Request, location_id: str, invoice_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    doc = _invoice(emu, location_id, invoice_id)
    _state(doc, ("sent", "partially_paid", "payment_processing"), "pay")
    paid = money_of(body, "amount") or doc["amountDue"]
    if paid > doc["amountDue"]:
        raise ControlError(400, f"amount is more than the {doc['amountDue']} due")
    if body.get("processing") is True:
        doc["status"] = "payment_processing"
        doc["updatedAt"] = emu.iso_now()
        invoices.emit(emu, "InvoiceUpdate", doc)
        return json_response({"invoice": doc, "transaction": None})
    event = invoices.pay(emu, doc, paid)
    contact = contact_of(emu, location_id, doc["contactDetails"]["id"])
    txn = orders.record_transaction(
        emu,
        location,
        contact=contact,
        total=paid,
        currency=doc["currency"],
        live=doc["liveMode"],
        entity={
            "entityType": "invoice",
            "entityId": doc["_id"],
            "invoiceId": doc["_id"],
            "entitySource": {"type": "invoice", "id": doc["_id"], "name": doc["name"]},
        },
    )
    invoices.emit(emu, event, doc)
    return json_response({"invoice": doc, "transaction": txn})


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(request: Request, location_id: str, invoice_id: str) -> JSONResponse:
    emu = emulator(request)
    doc = _invoice(emu, location_id, invoice_id)
    _state(doc, ("draft", "sent", "payment_processing"), "void")
    doc["status"] = "void"
    doc["updatedAt"] = emu.iso_now()
    invoices.emit(emu, "InvoiceVoid", doc)
    return json_response(doc)


@router.post("/invoices/{invoice_id}/delete")
async def delete_invoice(request: Request, location_id: str, invoice_id: str) -> JSONResponse:
    emu = emulator(request)
    doc = _invoice(emu, location_id, invoice_id)
    del emu.store.invoices[location_id][invoice_id]
    # docs/webhook events/InvoiceDelete.md's example carries status "delete".
    invoices.emit(emu, "InvoiceDelete", {**doc, "status": "delete", "updatedAt": emu.iso_now()})
    return json_response({"deleted": invoice_id})


@router.get("/invoices")
async def list_invoices(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location_of(emu, location_id)
    return json_response({"invoices": list(emu.store.invoices[location_id].values())})
