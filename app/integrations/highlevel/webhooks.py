# ruff: noqa: N815  (field names are HighLevel's own JSON keys, kept so each model reads like its doc)
"""HighLevel's webhook and API payloads as typed models (only the fields the sync reads).

Shapes from GoHighLevel/highlevel-api-docs: ``docs/webhook events/Invoice*.md``,
``OrderStatusUpdate.md``, ``ContactCreate.md``/``ContactUpdate.md``, ``AppInstall.md``/
``AppUninstall.md``; API objects from ``apps/invoices.json`` (GetInvoiceResponseDto,
TotalSummaryDto, InvoiceItemDto, DiscountDto) and ``apps/payments.json`` (OrderResponseSchema,
TxnResponseSchema). Unknown keys are ignored: HighLevel adds fields over time. Numbers are read
with ``parse_float=Decimal`` (:func:`load_body`) and never pass through float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Hl(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class BodyError(ValueError):
    """The body is not a JSON object."""


def load_body(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise BodyError("body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise BodyError("body must be a JSON object")
    return document


class HlAddress(_Hl):
    countryCode: str | None = None
    addressLine1: str | None = None
    addressLine2: str | None = None
    city: str | None = None
    state: str | None = None
    postalCode: str | None = None


class HlContactDetails(_Hl):
    id: str
    name: str | None = None
    email: str | None = None
    phoneNo: str | None = None
    companyName: str | None = None
    address: HlAddress | None = None


class HlTax(_Hl):
    name: str = "Tax"
    rate: Decimal
    # ItemTaxDto documents only "exclusive"; an inclusive item says so in `taxInclusive`.
    calculation: str | None = None


class HlInvoiceItem(_Hl):
    name: str
    description: str | None = None
    productId: str | None = None
    qty: Decimal
    amount: Decimal
    taxes: list[HlTax] = Field(default_factory=list)
    taxInclusive: bool | None = None


class HlDiscount(_Hl):
    type: str = "percentage"
    value: Decimal = Decimal(0)
    validOnProductIds: list[str] = Field(default_factory=list)


class HlTotalSummary(_Hl):
    subTotal: Decimal
    discount: Decimal = Decimal(0)
    # Absent from the webhook examples; present on the API's TotalSummaryDto.
    tax: Decimal | None = None


class HlInvoice(_Hl):
    """An invoice webhook body (Invoice*.md) or the API's GetInvoiceResponseDto."""

    id: str = Field(alias="_id")
    status: str
    liveMode: bool | None = None
    amountPaid: Decimal = Decimal(0)
    altId: str | None = None
    altType: str | None = None
    locationId: str | None = None
    invoiceNumber: str | int
    currency: str
    contactDetails: HlContactDetails
    issueDate: str
    dueDate: str | None = None
    discount: HlDiscount | None = None
    invoiceItems: list[HlInvoiceItem]
    total: Decimal
    amountDue: Decimal = Decimal(0)
    createdAt: str
    updatedAt: str
    totalSummary: HlTotalSummary | None = None
    automaticTaxesEnabled: bool | None = None


class HlOrderTax(_Hl):
    name: str = "Tax"
    rate: Decimal
    calculation: str | None = None


class HlOrderProduct(_Hl):
    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    taxes: list[HlOrderTax] = Field(default_factory=list)


class HlOrderPrice(_Hl):
    amount: Decimal
    currency: str | None = None


class HlOrderItem(_Hl):
    name: str
    qty: Decimal
    product: HlOrderProduct | None = None
    price: HlOrderPrice


class HlAmountSummary(_Hl):
    subtotal: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal | None = None
    shipping: Decimal = Decimal(0)


class HlOrderSource(_Hl):
    type: str | None = None
    subType: str | None = None
    id: str | None = None
    name: str | None = None


class HlContactSnapshot(_Hl):
    id: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    companyName: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postalCode: str | None = None
    country: str | None = None


class HlOrder(_Hl):
    """An OrderStatusUpdate body (OrderStatusUpdate.md) or the API's GET /payments/orders/{id}."""

    id: str = Field(alias="_id")
    status: str
    liveMode: bool | None = None
    altId: str | None = None
    altType: str | None = None
    locationId: str | None = None
    contactId: str | None = None
    currency: str
    amount: Decimal
    amountSummary: HlAmountSummary | None = None
    source: HlOrderSource | None = None
    createdAt: str
    updatedAt: str
    contactSnapshot: HlContactSnapshot | None = None
    items: list[HlOrderItem] = Field(default_factory=list)


class HlContact(_Hl):
    """A ContactCreate/ContactUpdate body (ContactCreate.md, ContactUpdate.md)."""

    id: str
    locationId: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    companyName: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postalCode: str | None = None
    country: str | None = None


class HlInstall(_Hl):
    """AppInstall (``type: "INSTALL"``) / AppUninstall (``"UNINSTALL"``) bodies (AppInstall.md);
    a bulk install names its locations in ``locationIds`` (GoHighLevel/highlevel-api-sdk README,
    Webhooks: "In case of bulk installation ... for all the locations")."""

    type: str
    appId: str | None = None
    companyId: str | None = None
    locationId: str | None = None
    locationIds: list[str] = Field(default_factory=list)

    def locations(self) -> list[str]:
        found = [*self.locationIds, *([self.locationId] if self.locationId else [])]
        return sorted(set(found))


class HlTransaction(_Hl):
    """A payment transaction (apps/payments.json TxnResponseSchema)."""

    id: str = Field(alias="_id")
    altId: str | None = None
    contactId: str | None = None
    contactName: str | None = None
    contactEmail: str | None = None
    currency: str
    amount: Decimal
    status: Any = None
    liveMode: bool | None = None
    entityType: str | None = None
    entityId: str | None = None
    entitySourceType: str | None = None
    entitySourceSubType: str | None = None
    subscriptionId: str | None = None
    createdAt: str
    updatedAt: str | None = None
    amountRefunded: Decimal = Decimal(0)


def location_of(document: dict[str, Any]) -> str | None:
    """The location: ``locationId``, else ``altId`` when ``altType`` is ``location``."""
    location = document.get("locationId")
    if isinstance(location, str) and location:
        return location
    alt_id, alt_type = document.get("altId"), document.get("altType")
    if alt_type == "location" and isinstance(alt_id, str) and alt_id:
        return alt_id
    return None


INVOICE_TYPES = frozenset(
    {
        "InvoiceCreate",
        "InvoiceSent",
        "InvoiceUpdate",
        "InvoicePartiallyPaid",
        "InvoicePaid",
        "InvoiceVoid",
        "InvoiceDelete",
    }
)


def kind_of(document: dict[str, Any]) -> str | None:
    """Which family a webhook body belongs to. The invoice examples carry no ``type`` at all
    (docs/webhook events/InvoiceSent.md), so an invoice is also known by its fields."""
    kind = document.get("type")
    if kind in ("INSTALL", "UNINSTALL"):
        return "install"
    if kind in INVOICE_TYPES or (kind is None and "invoiceItems" in document):
        return "invoice"
    if kind == "OrderStatusUpdate":
        return "order"
    if kind in ("ContactCreate", "ContactUpdate"):
        return "contact"
    return None
