"""Invoices (apps/invoices.json) and payments (apps/payments.json): reads with the filters the
docs give."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from highlevel_emulator import orders
from highlevel_emulator.auth import Caller, emu_of, own_location
from highlevel_emulator.errors import APIError, json_response, not_found, unprocessable

router = APIRouter()


def _alt(grant: Any, alt_id: str | None, alt_type: str | None) -> str:
    if alt_type is not None and alt_type != "location":
        raise unprocessable(["altType must be one of the following values: location"])
    return own_location(grant, alt_id)


def _page(items: list[dict[str, Any]], limit: str | int | None, offset: str | int | None) -> Any:
    try:
        size = int(limit) if limit is not None else 10
        start = int(offset) if offset is not None else 0
    except ValueError as exc:
        raise unprocessable(["limit and offset must be numbers"]) from exc
    return items[start : start + size]


def _in_range(value: str, start: str | None, end: str | None) -> bool:
    # Dates compared on their YYYY-MM-DD prefix: the docs give that format for invoices.
    day = value[:10]
    return (not start or day >= start[:10]) and (not end or day <= end[:10])


def _mode(live: bool, mode: str | None) -> bool:
    return mode in (None, "", "default") or (mode == "live") == live


@router.get("/invoices/{invoice_id}")
async def get_invoice(
    request: Request,
    grant: Caller,
    invoice_id: str,
    altId: str | None = None,  # noqa: N803 - HighLevel's parameter names
    altType: str | None = None,  # noqa: N803
) -> JSONResponse:
    location_id = _alt(grant, altId, altType)
    doc = emu_of(request).store.invoices[location_id].get(invoice_id)
    if doc is None:
        raise not_found("Invoice")
    return json_response(doc)


@router.get("/invoices/")
async def list_invoices(
    request: Request,
    grant: Caller,
    altId: str | None = None,  # noqa: N803
    altType: str | None = None,  # noqa: N803
    limit: str | None = None,
    offset: str | None = None,
    status: str | None = None,
    startAt: str | None = None,  # noqa: N803
    endAt: str | None = None,  # noqa: N803
    search: str | None = None,
    paymentMode: str | None = None,  # noqa: N803
    contactId: str | None = None,  # noqa: N803
    sortField: str | None = None,  # noqa: N803
    sortOrder: str | None = None,  # noqa: N803
) -> JSONResponse:
    """`limit` and `offset` are required by the docs; startAt/endAt are compared with issueDate
    and the default order is issueDate descending (both UNKNOWN, README)."""
    location_id = _alt(grant, altId, altType)
    if limit is None or offset is None:
        raise unprocessable(["limit must be a number string", "offset must be a number string"])
    if sortField not in (None, "issueDate") or sortOrder not in (None, "ascend", "descend"):
        raise unprocessable(["sortField must be issueDate; sortOrder ascend or descend"])
    docs = list(emu_of(request).store.invoices[location_id].values())
    docs = [
        d
        for d in docs
        if (not status or d["status"] == status)
        and (not contactId or d["contactDetails"]["id"] == contactId)
        and _in_range(d["issueDate"], startAt, endAt)
        and _mode(d["liveMode"], paymentMode)
        and (not search or _invoice_hit(d, search))
    ]
    docs.sort(key=lambda d: (d["issueDate"], d["createdAt"]), reverse=sortOrder != "ascend")
    return json_response({"invoices": _page(docs, limit, offset), "total": len(docs)})


def _invoice_hit(doc: dict[str, Any], text: str) -> bool:
    contact = doc["contactDetails"]
    hay = [doc["_id"], doc["name"], contact.get("email", ""), contact.get("phoneNo", "")]
    return any(text.lower() in str(h).lower() for h in hay)


@router.get("/payments/orders")
async def list_orders(
    request: Request,
    grant: Caller,
    altId: str | None = None,  # noqa: N803
    locationId: str | None = None,  # noqa: N803
    status: str | None = None,
    paymentMode: str | None = None,  # noqa: N803
    startAt: str | None = None,  # noqa: N803
    endAt: str | None = None,  # noqa: N803
    contactId: str | None = None,  # noqa: N803
    sourceId: str | None = None,  # noqa: N803
    limit: int | None = None,
    offset: int | None = None,
) -> JSONResponse:
    location_id = own_location(grant, altId or locationId)
    docs = [
        d
        for d in emu_of(request).store.orders[location_id].values()
        if (not status or d["status"] == status)
        and (not contactId or d["contactId"] == contactId)
        and (not sourceId or d["source"].get("id") == sourceId)
        and _in_range(d["createdAt"], startAt, endAt)
        and _mode(d["liveMode"], paymentMode)
    ]
    docs.sort(key=lambda d: d["createdAt"], reverse=True)
    page = _page([orders.list_entry(d) for d in docs], limit, offset)
    return json_response({"data": page, "totalCount": len(docs)})


@router.get("/payments/orders/{order_id}")
async def get_order(
    request: Request,
    grant: Caller,
    order_id: str,
    altId: str | None = None,  # noqa: N803
    locationId: str | None = None,  # noqa: N803
) -> JSONResponse:
    location_id = own_location(grant, altId or locationId)
    doc = emu_of(request).store.orders[location_id].get(order_id)
    if doc is None:
        raise not_found("Order")
    return json_response(doc)


@router.get("/payments/transactions")
async def list_transactions(
    request: Request,
    grant: Caller,
    altId: str | None = None,  # noqa: N803
    altType: str | None = None,  # noqa: N803
    locationId: str | None = None,  # noqa: N803
    paymentMode: str | None = None,  # noqa: N803
    startAt: str | None = None,  # noqa: N803
    endAt: str | None = None,  # noqa: N803
    entitySourceType: str | None = None,  # noqa: N803
    subscriptionId: str | None = None,  # noqa: N803
    entityId: str | None = None,  # noqa: N803
    contactId: str | None = None,  # noqa: N803
    limit: int | None = None,
    offset: int | None = None,
) -> JSONResponse:
    if altType is None:
        raise unprocessable(["altType must be a string"])
    location_id = _alt(grant, altId or locationId, altType)
    docs = [
        d
        for d in emu_of(request).store.transactions[location_id].values()
        if (not subscriptionId or d.get("subscriptionId") == subscriptionId)
        and (not entityId or d.get("entityId") == entityId)
        and (not contactId or d["contactId"] == contactId)
        and (not entitySourceType or d.get("entitySource", {}).get("type") == entitySourceType)
        and _in_range(d["createdAt"], startAt, endAt)
        and _mode(d["liveMode"], paymentMode)
    ]
    docs.sort(key=lambda d: d["createdAt"], reverse=True)
    page = _page([orders.txn_list_entry(d) for d in docs], limit, offset)
    return json_response({"data": page, "totalCount": len(docs)})


@router.get("/payments/transactions/{transaction_id}")
async def get_transaction(
    request: Request,
    grant: Caller,
    transaction_id: str,
    altId: str | None = None,  # noqa: N803
    altType: str | None = None,  # noqa: N803
    locationId: str | None = None,  # noqa: N803
) -> JSONResponse:
    location_id = _alt(grant, altId or locationId, altType)
    doc = emu_of(request).store.transactions[location_id].get(transaction_id)
    if doc is None:
        raise not_found("Transaction")
    return json_response(doc)


__all__ = ["APIError", "router"]
