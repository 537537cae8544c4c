"""Control API, part three: orders, renewals and refunds.

A completed order fires OrderStatusUpdate (docs/webhook events/OrderStatusUpdate.md) and records a
transaction. Renewals and refunds fire nothing: HighLevel documents no webhook event for a payment
transaction, a subscription charge or a refund (the event list, docs/webhook events/*.md, has none),
so the stand-in records them for the payments API only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from highlevel_emulator import orders
from highlevel_emulator.control import location_of
from highlevel_emulator.control_objects import bad, contact_of, money_of
from highlevel_emulator.errors import ControlError, control_body, json_response
from highlevel_emulator.oauth import emulator
from highlevel_emulator.state import HighLevelEmulator, Location

router = APIRouter(prefix="/_emulator/locations/{location_id}", tags=["control"])


def _complete(emu: HighLevelEmulator, location: Location, doc: dict[str, Any]) -> dict[str, Any]:
    contact = contact_of(emu, location.location_id, doc["contactId"])
    source = doc["source"]
    return orders.record_transaction(
        emu,
        location,
        contact=contact,
        total=doc["amount"],
        currency=doc["currency"],
        live=doc["liveMode"],
        entity={
            "entityType": "order",
            "entityId": doc["_id"],
            "entitySource": {
                k: source[k] for k in ("type", "subType", "id", "name") if k in source
            },
        },
    )


@router.post("/orders")
async def create_order(request: Request, location_id: str) -> Any:
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    contact = contact_of(emu, location_id, body.get("contact_id"))
    status = body.get("status", "completed")
    if not isinstance(status, str):
        raise ControlError(400, "status must be a string")
    try:
        doc = orders.create(emu, location, contact, body)
    except orders.OrderError as exc:
        raise bad(exc) from exc
    return json_response(_set_status(emu, location, doc, status), status=201)


def _set_status(
    emu: HighLevelEmulator, location: Location, doc: dict[str, Any], status: str
) -> dict[str, Any]:
    txn = None
    if status != doc["status"]:
        doc["status"] = status
        doc["updatedAt"] = emu.iso_now()
        if status == "completed":
            txn = _complete(emu, location, doc)
        orders.emit_status(emu, doc)
    return {"order": doc, "transaction": txn}


@router.post("/orders/{order_id}/status")
async def order_status(request: Request, location_id: str, order_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    doc = emu.store.orders[location_id].get(order_id)
    if doc is None:
        raise ControlError(404, f"unknown order {order_id}")
    status = body.get("status")
    if not isinstance(status, str):
        raise ControlError(400, "status must be a string")
    return json_response(_set_status(emu, location, doc, status))


@router.get("/orders")
async def list_orders(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location_of(emu, location_id)
    return json_response({"orders": list(emu.store.orders[location_id].values())})


@router.post("/renewals")
async def renewal(request: Request, location_id: str) -> Any:
    """A subscription charge. Shape from apps/payments.json's transaction example, which is one:
    entityType "order" with a subscriptionId and a Stripe invoice chargeId."""
    body = await control_body(request)
    emu = emulator(request)
    location = location_of(emu, location_id)
    contact = contact_of(emu, location_id, body.get("contact_id"))
    total = money_of(body, "amount")
    if total is None:
        raise ControlError(400, "amount is required")
    subscription = str(body.get("subscription_id") or "sub_" + emu.short_id())
    txn = orders.record_transaction(
        emu,
        location,
        contact=contact,
        total=total,
        currency=str(body.get("currency", location.currency)),
        live=location.live_mode,
        entity={
            "entityType": "order",
            "entityId": str(body.get("order_id") or emu.object_id()),
            "subscriptionId": subscription,
            "entitySource": {"type": "subscription", "name": str(body.get("name", "Renewal"))},
        },
    )
    return json_response(txn, status=201)


@router.post("/transactions/{transaction_id}/refund")
async def refund(request: Request, location_id: str, transaction_id: str) -> JSONResponse:
    body = await control_body(request)
    emu = emulator(request)
    location_of(emu, location_id)
    doc = emu.store.transactions[location_id].get(transaction_id)
    if doc is None:
        raise ControlError(404, f"unknown transaction {transaction_id}")
    try:
        orders.refund(emu, doc, money_of(body, "amount"))
    except orders.OrderError as exc:
        raise bad(exc) from exc
    return json_response(doc)


@router.get("/transactions")
async def list_transactions(request: Request, location_id: str) -> JSONResponse:
    emu = emulator(request)
    location_of(emu, location_id)
    return json_response({"transactions": list(emu.store.transactions[location_id].values())})
