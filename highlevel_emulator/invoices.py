"""Invoices: the API document (apps/invoices.json `GetInvoiceResponseDto`), totals, and the webhook
payloads (docs/webhook events/InvoiceCreate.md ... InvoiceDelete.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from highlevel_emulator.money import AmountError, amount, cents
from highlevel_emulator.state import HighLevelEmulator, Location

# Every key of the documented webhook schema, in the examples' order (InvoicePaid.md). The
# webhook's totalSummary has subTotal and discount only: the docs' schema carries no tax there.
_EVENT_KEYS = (
    "_id",
    "status",
    "liveMode",
    "amountPaid",
    "altId",
    "altType",
    "name",
    "businessDetails",
    "invoiceNumber",
    "currency",
    "contactDetails",
    "issueDate",
    "dueDate",
    "discount",
    "invoiceItems",
    "total",
    "title",
    "amountDue",
    "createdAt",
    "updatedAt",
)


class InvoiceError(ValueError):
    pass


def _taxes(raw: Any) -> list[dict[str, Any]]:
    # apps/invoices.json `ItemTaxDto`: _id, name, rate required; calculation enum ["exclusive"].
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvoiceError("taxes must be a list")
    out = []
    for tax in raw:
        if not isinstance(tax, dict) or not {"_id", "name", "rate"} <= tax.keys():
            raise InvoiceError("a tax needs _id, name and rate")
        if tax.get("calculation", "exclusive") != "exclusive":
            raise InvoiceError("only exclusive taxes are documented")
        out.append({**tax, "rate": amount(tax["rate"]), "calculation": "exclusive"})
    return out


def items(emu: HighLevelEmulator, raw: Any, currency: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvoiceError("items must be a non-empty list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or "name" not in item or "amount" not in item:
            raise InvoiceError("an item needs name and amount")
        try:
            doc = {
                "taxes": _taxes(item.get("taxes")),
                "_id": emu.short_id(),
                "productId": item.get("productId", emu.short_id()),
                "priceId": item.get("priceId", emu.short_id()),
                "currency": currency,
                "name": item["name"],
                "qty": amount(item.get("qty", 1)),
                "amount": amount(item["amount"]),
            }
        except AmountError as exc:
            raise InvoiceError(str(exc)) from exc
        if "description" in item:
            doc["description"] = item["description"]
        out.append(doc)
    return out


def discount(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {"type": "percentage", "value": Decimal(0)}
    if not isinstance(raw, dict) or raw.get("type") not in ("percentage", "fixed"):
        raise InvoiceError('discount is {"type": "percentage"|"fixed", "value": number}')
    return {"type": raw["type"], "value": amount(raw.get("value", 0))}


def recompute(doc: dict[str, Any]) -> None:
    """Totals from the lines. UNKNOWN (README): whether HighLevel taxes a line before or after an
    invoice discount and how it rounds; here the discount is spread over lines in proportion and
    tax is computed on what is left, per line and tax, half-up to the cent."""
    lines = [item["qty"] * item["amount"] for item in doc["invoiceItems"]]
    sub_total = cents(sum(lines, Decimal(0)))
    disc = doc["discount"]
    if disc["type"] == "percentage":
        off = cents(sub_total * disc["value"] / 100)
    else:
        off = min(cents(disc["value"]), sub_total)
    tax = Decimal(0)
    for item, line in zip(doc["invoiceItems"], lines, strict=True):
        share = line - (off * line / sub_total if sub_total else Decimal(0))
        for rate in (t["rate"] for t in item["taxes"]):
            tax += cents(share * rate / 100)
    doc["total"] = sub_total - off + tax
    doc["totalSummary"] = {"subTotal": sub_total, "discount": off, "tax": tax}
    doc["amountDue"] = doc["total"] - doc["amountPaid"]


def contact_details(contact: dict[str, Any]) -> dict[str, Any]:
    # apps/invoices.json GetInvoiceResponseDto.contactDetails example.
    details: dict[str, Any] = {"id": contact["id"], "name": contact.get("name", "")}
    for ours, theirs in (("email", "email"), ("phone", "phoneNo"), ("companyName", "companyName")):
        if contact.get(ours):
            details[theirs] = contact[ours]
    details["customFields"] = []
    address = {"countryCode": contact.get("country", "US")}
    for ours, theirs in (("address1", "addressLine1"), ("city", "city"), ("state", "state")):
        if contact.get(ours):
            address[theirs] = contact[ours]
    if contact.get("postalCode"):
        address["postalCode"] = contact["postalCode"]
    details["address"] = address
    return details


def create(
    emu: HighLevelEmulator, location: Location, contact: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    currency = str(body.get("currency", location.currency))
    number = emu.store.invoice_numbers.get(location.location_id, 0) + 1
    emu.store.invoice_numbers[location.location_id] = number
    today = emu.iso_now()[:10]
    live = body.get("live_mode", location.live_mode)
    if not isinstance(live, bool):
        raise InvoiceError("live_mode must be a boolean")
    now = emu.iso_now()
    doc: dict[str, Any] = {
        "_id": emu.object_id(),
        "status": "draft",
        "liveMode": live,
        "amountPaid": Decimal(0),
        "altId": location.location_id,
        "altType": "location",
        "name": str(body.get("name", "New Invoice")),
        "businessDetails": {"name": location.name},
        "invoiceNumber": str(body.get("invoiceNumber", number)),
        "currency": currency,
        "contactDetails": contact_details(contact),
        "issueDate": str(body.get("issueDate", today)),
        "dueDate": str(body.get("dueDate", today)),
        "discount": discount(body.get("discount")),
        "invoiceItems": items(emu, body.get("items"), currency),
        "title": str(body.get("title", "INVOICE")),
        "createdAt": now,
        "updatedAt": now,
        "automaticTaxesEnabled": False,
    }
    recompute(doc)
    emu.store.invoices[location.location_id][doc["_id"]] = doc
    return doc


def edit(emu: HighLevelEmulator, doc: dict[str, Any], body: dict[str, Any]) -> None:
    unknown = set(body) - {"name", "dueDate", "items", "discount"}
    if unknown:
        raise InvoiceError(f"unknown invoice fields: {sorted(unknown)}")
    if "items" in body:
        doc["invoiceItems"] = items(emu, body["items"], doc["currency"])
    if "discount" in body:
        doc["discount"] = discount(body["discount"])
    for key in ("name", "dueDate"):
        if key in body:
            doc[key] = str(body[key])
    recompute(doc)
    doc["updatedAt"] = emu.iso_now()


def pay(emu: HighLevelEmulator, doc: dict[str, Any], paid: Decimal) -> str:
    """Record a payment; returns the event it fires (InvoicePaid / InvoicePartiallyPaid)."""
    doc["amountPaid"] = doc["amountPaid"] + paid
    doc["amountDue"] = doc["total"] - doc["amountPaid"]
    doc["status"] = "paid" if doc["amountDue"] <= 0 else "partially_paid"
    doc["updatedAt"] = emu.iso_now()
    return "InvoicePaid" if doc["status"] == "paid" else "InvoicePartiallyPaid"


def event_payload(event_type: str, doc: dict[str, Any]) -> dict[str, Any]:
    # UNKNOWN (README): the invoice events' examples show no "type" key, the contact, order and
    # app events' do; the stand-in sends it first, like theirs.
    payload: dict[str, Any] = {"type": event_type}
    payload.update({k: doc[k] for k in _EVENT_KEYS if k in doc})
    summary = doc["totalSummary"]
    payload["totalSummary"] = {"subTotal": summary["subTotal"], "discount": summary["discount"]}
    return payload


def emit(emu: HighLevelEmulator, event_type: str, doc: dict[str, Any]) -> str:
    return emu.webhooks.emit(doc["altId"], event_type, event_payload(event_type, doc))
