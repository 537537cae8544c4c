"""Orders and payment transactions (apps/payments.json `GetOrderResponseSchema`,
`OrderResponseSchema`, `GetTxnResponseSchema`, `TxnResponseSchema`) and the OrderStatusUpdate
payload (docs/webhook events/OrderStatusUpdate.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from highlevel_emulator.money import AmountError, amount, cents
from highlevel_emulator.state import HighLevelEmulator, Location

_ORDER_EVENT_KEYS = (
    "_id",
    "altId",
    "altType",
    "status",
    "taxSummary",
    "fulfillmentStatus",
    "contactId",
    "currency",
    "amount",
    "liveMode",
    "amountSummary",
    "source",
    "createdAt",
    "updatedAt",
    "contactSnapshot",
    "items",
)


class OrderError(ValueError):
    pass


def _item(emu: HighLevelEmulator, raw: Any, currency: str) -> tuple[dict[str, Any], Decimal]:
    if not isinstance(raw, dict) or "name" not in raw or "price" not in raw:
        raise OrderError("an item needs name and price")
    taxes = raw.get("taxes", [])
    if not isinstance(taxes, list) or not all(
        isinstance(t, dict) and {"_id", "name", "rate"} <= t.keys() for t in taxes
    ):
        raise OrderError("a tax needs _id, name and rate")
    try:
        qty, price = amount(raw.get("qty", 1)), amount(raw["price"])
        rates = [amount(t["rate"]) for t in taxes]
    except AmountError as exc:
        raise OrderError(str(exc)) from exc
    product_taxes = [
        {**t, "rate": r, "calculation": "exclusive"} for t, r in zip(taxes, rates, strict=True)
    ]
    # Item shape of the OrderStatusUpdate.md example: name, qty, product{...}, price{...}.
    item = {
        "name": raw["name"],
        "qty": qty,
        "product": {"_id": emu.object_id(), "name": raw["name"], "taxes": product_taxes},
        "price": {
            "_id": emu.object_id(),
            "name": raw["name"],
            "type": "one_time",
            "currency": currency,
            "amount": price,
        },
    }
    return item, qty * price


def _totals(items: list[tuple[dict[str, Any], Decimal]]) -> tuple[Decimal, list[dict[str, Any]]]:
    subtotal = cents(sum((line for _, line in items), Decimal(0)))
    summary: dict[str, dict[str, Any]] = {}
    for item, line in items:
        for tax in item["product"]["taxes"]:
            entry = summary.setdefault(
                tax["_id"],
                {
                    "_id": tax["_id"],
                    "name": tax["name"],
                    "calculation": "exclusive",
                    "rate": tax["rate"],
                    "amount": Decimal(0),
                },
            )
            entry["amount"] += cents(line * tax["rate"] / 100)
    return subtotal, list(summary.values())


def create(
    emu: HighLevelEmulator, location: Location, contact: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    currency = str(body.get("currency", location.currency))
    raw_items = body.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise OrderError("items must be a non-empty list")
    source = body.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("type"), str):
        raise OrderError('source is {"type": str, "subType"?, "id"?, "name"?}')
    live = body.get("live_mode", location.live_mode)
    if not isinstance(live, bool):
        raise OrderError("live_mode must be a boolean")
    built = [_item(emu, raw, currency) for raw in raw_items]
    subtotal, tax_summary = _totals(built)
    tax = sum((t["amount"] for t in tax_summary), Decimal(0))
    now = emu.iso_now()
    from highlevel_emulator.contacts import snapshot

    doc: dict[str, Any] = {
        "_id": emu.object_id(),
        "altId": location.location_id,
        "altType": "location",
        "contactId": contact["id"],
        "currency": currency,
        "amount": subtotal + tax,
        "status": "pending",
        "liveMode": live,
        "fulfillmentStatus": "unfulfilled",
        "contactSnapshot": snapshot(contact),
        "amountSummary": {"subtotal": subtotal, "discount": Decimal(0), "tax": tax},
        "taxSummary": tax_summary,
        "source": {"id": emu.short_id(), "name": source.get("type"), "meta": {}, **source},
        "items": [item for item, _ in built],
        "createdAt": now,
        "updatedAt": now,
    }
    doc["amountSummary"]["shipping"] = Decimal(0)
    emu.store.orders[location.location_id][doc["_id"]] = doc
    return doc


def list_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """The list form (`OrderResponseSchema`): flat source fields, contact name and email."""
    snap = doc["contactSnapshot"]
    source = doc["source"]
    return {
        "_id": doc["_id"],
        "altId": doc["altId"],
        "altType": doc["altType"],
        "contactId": doc["contactId"],
        "contactName": " ".join(p for p in (snap.get("firstName"), snap.get("lastName")) if p),
        "contactEmail": snap.get("email", ""),
        "currency": doc["currency"],
        "amount": doc["amount"],
        "subtotal": doc["amountSummary"]["subtotal"],
        "discount": doc["amountSummary"]["discount"],
        "status": doc["status"],
        "liveMode": doc["liveMode"],
        "totalProducts": len(doc["items"]),
        "sourceType": source.get("type"),
        "sourceName": source.get("name"),
        "sourceId": source.get("id"),
        "sourceSubType": source.get("subType"),
        "sourceMeta": source.get("meta", {}),
        "fulfillmentStatus": doc["fulfillmentStatus"],
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
    }


def event_payload(doc: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "OrderStatusUpdate", "locationId": doc["altId"]}
    payload.update({k: doc[k] for k in _ORDER_EVENT_KEYS if k in doc})
    return payload


def emit_status(emu: HighLevelEmulator, doc: dict[str, Any]) -> str:
    return emu.webhooks.emit(doc["altId"], "OrderStatusUpdate", event_payload(doc))


def record_transaction(
    emu: HighLevelEmulator,
    location: Location,
    *,
    contact: dict[str, Any],
    total: Decimal,
    currency: str,
    live: bool,
    entity: dict[str, Any],
) -> dict[str, Any]:
    """A succeeded payment (`GetTxnResponseSchema`). `entity` carries entityType, entityId,
    entitySource and, for a subscription charge, subscriptionId."""
    now = emu.iso_now()
    doc: dict[str, Any] = {
        "_id": emu.object_id(),
        "altType": "location",
        "altId": location.location_id,
        "contactId": contact["id"],
        "contactSnapshot": {k: contact[k] for k in ("id", "name", "email") if k in contact},
        "currency": currency,
        "amount": total,
        "status": "succeeded",
        "liveMode": live,
        "amountRefunded": Decimal(0),
        "chargeId": "ch_" + emu.short_id(),
        "paymentProvider": {"type": "manual"},
        "createdAt": now,
        "updatedAt": now,
        "fulfilledAt": now,
        **entity,
    }
    emu.store.transactions[location.location_id][doc["_id"]] = doc
    return doc


def refund(emu: HighLevelEmulator, doc: dict[str, Any], value: Decimal | None) -> None:
    left = doc["amount"] - doc["amountRefunded"]
    taken = left if value is None else cents(value)
    if taken <= 0 or taken > left:
        raise OrderError(f"refund must be more than 0 and at most {left}")
    doc["amountRefunded"] += taken
    # UNKNOWN (README): the status HighLevel shows after a refund; "refunded" once whole.
    if doc["amountRefunded"] >= doc["amount"]:
        doc["status"] = "refunded"
    doc["updatedAt"] = emu.iso_now()


def txn_list_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """The list form (`TxnResponseSchema`): flat entitySource fields."""
    source = doc.get("entitySource", {})
    entry = {k: v for k, v in doc.items() if k not in ("entitySource", "contactSnapshot")}
    entry["contactName"] = doc["contactSnapshot"].get("name", "")
    entry["contactEmail"] = doc["contactSnapshot"].get("email", "")
    entry["entitySourceType"] = source.get("type")
    entry["entitySourceSubType"] = source.get("subType")
    entry["entitySourceName"] = source.get("name")
    entry["entitySourceId"] = source.get("id")
    return entry
