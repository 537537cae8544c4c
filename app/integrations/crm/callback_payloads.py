"""What each callback tells the CRM: one pydantic model per callback type (docs/design.md §2.4).

A model is the `data` of the signed envelope ``{"id", "type", "occurred_at", "location_id",
"data"}`` (`callbacks.encode_body`); its `callback_type` is the envelope's `type`. The outbox
stores `as_json()` and the deliverer sends it as stored, so these models are the contract with
the CRM and the OpenAPI document's `webhooks` are generated from them. Every key is present
(null when unknown) unless its field says when it is left out. Money is a decimal string,
dates ISO 8601. `extra="forbid"`: a key nobody declared never reaches the CRM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from app.models.states import ConnectionStatus, SyncState


def _absent(value: object) -> bool:
    return value is None


def _empty(value: Sequence[object]) -> bool:
    return not value


def _decimal_text(value: Decimal) -> str:
    return str(value)


def _iso(moment: datetime) -> str:
    # isoformat, not pydantic's "Z": the CRM has always received "+00:00".
    return moment.isoformat()


DecimalText = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["19.90"]}),
]
IsoTime = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CallbackPayload(_Part):
    """The `data` of one callback; subclasses name their type and when it is sent."""

    callback_type: ClassVar[str]
    # One sentence for the OpenAPI document and the README's callbacks table.
    sent_when: ClassVar[str]

    def as_json(self) -> dict[str, Any]:
        """The JSON object the CRM receives as `data` (stored as is in the outbox)."""
        return self.model_dump(mode="json", by_alias=True)


# --- contact.upsert ---------------------------------------------------------------------------


class ContactAddress(_Part):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class ContactRecord(_Part):
    """The CRM's view of a QBO customer; as sent in the pages of the initial import."""

    qbo_customer_id: str | None
    display_name: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    email: str | None
    phone: str | None
    address: ContactAddress | None
    active: bool


class DeletedContactRecord(_Part):
    """A customer QBO no longer has (deleted, or merged away and gone)."""

    qbo_customer_id: str
    active: Literal[False] = False
    deleted: Literal[True] = True


class ContactChange(ContactRecord):
    """A later change of a QBO customer, with the CRM contact it is linked to (null: none yet)."""

    crm_contact_id: str | None
    merged_from: list[str] = Field(
        default_factory=list,
        exclude_if=_empty,
        description="Left out unless QBO merged these customers into this one.",
    )


class DeletedContactChange(DeletedContactRecord):
    crm_contact_id: str | None
    merged_from: list[str] = Field(
        default_factory=list,
        exclude_if=_empty,
        description="Left out unless QBO merged these customers into this one.",
    )


class ContactUpsertCallback(CallbackPayload):
    callback_type: ClassVar[str] = "contact.upsert"
    sent_when: ClassVar[str] = (
        "QBO customers reach the CRM: a page of the initial import (`import: true`, so the CRM "
        "holds back the automations of a new contact), or one customer created, changed, merged "
        "or deleted in QBO later (`import: false`)"
    )

    import_: bool = Field(alias="import")
    contacts: list[ContactChange | DeletedContactChange | ContactRecord]


# --- invoice.import ---------------------------------------------------------------------------

InvoiceStatusText = Literal["sent", "paid", "partially_paid", "voided"]


class InvoiceLineRecord(_Part):
    name: str | None
    description: str | None
    quantity: DecimalText | None
    unit_price: DecimalText | None
    amount: DecimalText | None


class InvoiceRecordTotals(_Part):
    tax: DecimalText
    total: DecimalText
    balance: DecimalText
    amount_paid: DecimalText


class InvoiceRecord(_Part):
    """The CRM's view of a QBO invoice (read-only in the CRM)."""

    qbo_invoice_id: str | None
    number: str | None
    issue_date: date | None
    due_date: date | None
    status: InvoiceStatusText
    currency: str | None
    qbo_customer_id: str | None
    customer_name: str | None
    billing_email: str | None
    line_items: list[InvoiceLineRecord]
    totals: InvoiceRecordTotals


class DeletedInvoiceRecord(_Part):
    qbo_invoice_id: str
    status: Literal["deleted"] = "deleted"


class InvoiceImportCallback(CallbackPayload):
    callback_type: ClassVar[str] = "invoice.import"
    sent_when: ClassVar[str] = (
        "QBO invoices reach the CRM: a page of the initial import (when the location chose to "
        "import invoices), or a later change of an invoice that came from that import"
    )

    import_: bool | None = Field(
        default=None,
        alias="import",
        exclude_if=_absent,
        description="false for a later change; left out in the pages of the initial import.",
    )
    invoices: list[InvoiceRecord | DeletedInvoiceRecord]


# --- review_request.send ----------------------------------------------------------------------


class ReviewRequestCallback(CallbackPayload):
    callback_type: ClassVar[str] = "review_request.send"
    sent_when: ClassVar[str] = (
        "A QBO customer's first invoice is paid in full after connecting, with review automation "
        "on; once per customer"
    )

    qbo_customer_id: str
    qbo_invoice_id: str
    crm_contact_id: str | None
    email: str | None
    name: str | None
    paid_date: date


# --- connection.status ------------------------------------------------------------------------


class ImportKindProgress(_Part):
    done: int
    total: int
    next_position: int


class ImportReport(_Part):
    state: str | None = Field(
        description='queued, running, done, or "retrying: …", "paused: …", "failed: …" '
        "(32 characters at most)"
    )
    progress: dict[str, ImportKindProgress]
    error: str | None = Field(
        default=None, exclude_if=_absent, description="Left out unless the import stopped."
    )


class ConnectionStatusCallback(CallbackPayload):
    callback_type: ClassVar[str] = "connection.status"
    sent_when: ClassVar[str] = (
        "A connection becomes active, needs a reconnect or is disconnected, and at each step "
        "of the initial import (with `import`)"
    )

    location_id: str
    realm_id: str | None
    status: ConnectionStatus
    reason: str | None
    import_: ImportReport | None = Field(
        default=None,
        alias="import",
        exclude_if=_absent,
        description="Left out unless the initial import is reporting.",
    )
    at: IsoTime


# --- sync.result ------------------------------------------------------------------------------


class SyncedObject(_Part):
    kind: str
    crm_id: str


class SyncResultCallback(CallbackPayload):
    callback_type: ClassVar[str] = "sync.result"
    sent_when: ClassVar[str] = (
        "A CRM event was processed (synced, skipped or failed for good); with its sync-log entry"
    )

    event_id: str
    object_: SyncedObject = Field(alias="object")
    state: SyncState
    qbo_id: str | None
    message: str | None
    action: str | None
    error_code: str | None
    sync_log_id: int


CALLBACK_PAYLOADS: tuple[type[CallbackPayload], ...] = (
    ContactUpsertCallback,
    InvoiceImportCallback,
    ReviewRequestCallback,
    ConnectionStatusCallback,
    SyncResultCallback,
)
