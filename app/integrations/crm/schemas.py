"""CRM event catalogue (docs/design.md §2.1) and the single parser the HTTP layer calls.

Policy on unknown fields: the envelope is our own contract and forbids extra keys, so a sender
that got it wrong hears so at once; everything inside ``data`` ignores unknown keys, because the
CRM adds fields to its objects over time and that must not turn into rejected events.

Invoice ``status`` accepts draft, sent, viewed, partially_paid, paid, overdue and both "void" and
"voided"; it is stored as "voided", matching the ``invoice.voided`` event name. Errors carry dotted
paths relative to the body (``data.line_items.0.unit_price``); "" means the body as a whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from app.errors import AppError
from app.integrations.crm.event_fields import (
    Currency,
    Email,
    EventId,
    Identifier,
    Money,
    Percent,
    Quantity,
    ShortText,
    StrictDate,
    Text,
    Timestamp,
    UnitPrice,
)
from app.text_rules import CONTROL_MESSAGE, LITERAL_PATTERN, TEXT_PATTERN, nul_path


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Data):
    line1: ShortText | None = None
    line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: ShortText | None = None


class Contact(_Data):
    id: Identifier
    email: Email = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    company_name: ShortText | None = None
    phone: ShortText | None = None
    address: Address | None = None


class Tax(_Data):
    name: ShortText
    rate: Percent = Field(le=100, description="A percentage: 8.25 means 8.25 %.")
    inclusive: StrictBool = False


class LineItem(_Data):
    name: Annotated[ShortText, Field(min_length=1)]
    description: Text | None = None
    quantity: Quantity = Field(gt=0)
    unit_price: UnitPrice
    taxes: list[Tax] = Field(default_factory=list, max_length=20)


class Discount(_Data):
    type: Literal["percentage", "fixed"]
    value: Percent

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        kind = info.data.get("type")
        if kind == "percentage" and value > 100:
            raise PydanticCustomError("discount", "a percentage discount must be at most 100")
        if kind == "fixed" and value != round(value, 2):
            raise PydanticCustomError("discount", "a fixed discount must have at most 2 places")
        return value


class InvoiceTotals(_Data):
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    amount_paid: Money
    amount_due: Money


class PaymentTotals(_Data):
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    amount_paid: Money | None = None
    amount_due: Money | None = None


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    VIEWED = "viewed"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOIDED = "voided"


def _normalise_status(value: Any) -> Any:
    # CRMs say "void" and "voided" interchangeably; keep one spelling, the event name's.
    return InvoiceStatus.VOIDED.value if value == "void" else value


class PaymentSource(StrEnum):
    ORDER_FORM = "order_form"
    SUBSCRIPTION = "subscription"
    MEMBERSHIP = "membership"
    CALENDAR = "calendar"
    INVOICE = "invoice"
    OTHER = "other"


LineItems = Annotated[list[LineItem], Field(min_length=1, max_length=1000)]


class InvoiceData(_Data):
    id: Identifier
    number: Identifier
    status: Annotated[InvoiceStatus, BeforeValidator(_normalise_status)]
    issue_date: StrictDate
    due_date: StrictDate | None = None
    created_at: Timestamp
    updated_at: Timestamp
    currency: Currency
    contact: Contact
    billing_email: Email = None
    line_items: LineItems
    discount: Discount | None = None
    totals: InvoiceTotals
    # Set by the CRM on invoices it received through `invoice.import` (Q3): never pushed back.
    qbo_invoice_id: Identifier | None = None


class PaymentData(_Data):
    id: Identifier
    source: PaymentSource
    invoice_id: Identifier | None = Field(default=None, validate_default=True)
    paid_at: Timestamp
    currency: Currency
    contact: Contact
    billing_email: Email = None
    line_items: LineItems
    discount: Discount | None = None
    totals: PaymentTotals
    payment_method: Annotated[ShortText, Field(min_length=1)]
    reference: ShortText | None = None
    fee: Annotated[Money, Field(ge=0)] | None = Field(
        default=None,
        description=(
            "The payment processor's fee, in the payment's currency, when the CRM knows it. "
            "With a fee expense account chosen for the connection (and a Bank deposit account), "
            "it is recorded as an expense paid from the deposit account, so the deposit "
            "matches what the bank receives."
        ),
    )

    @field_validator("invoice_id")
    @classmethod
    def _invoice_payment_names_invoice(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Without the invoice id an invoice payment would become a SalesReceipt: revenue twice.
        if value is None and info.data.get("source") is PaymentSource.INVOICE:
            raise PydanticCustomError("missing", "required when source is 'invoice'")
        return value


class RefundData(_Data):
    """A full or partial refund of a payment the CRM sent before (`payment_id`)."""

    id: Identifier
    payment_id: Identifier
    refunded_at: Timestamp
    currency: Currency
    amount: Annotated[Money, Field(gt=0)]
    reason: Text | None = None
    contact: Contact
    # What was refunded, when the CRM says; without lines the refund is shared pro rata over
    # the payment's lines.
    line_items: LineItems | None = None


class InvoiceDeletedData(_Data):
    id: Identifier
    deleted_at: Timestamp


InvoiceEventType = Literal[
    "invoice.sent", "invoice.updated", "invoice.partially_paid", "invoice.paid", "invoice.voided"
]


class _EventBase(_Envelope):
    id: EventId
    occurred_at: Timestamp
    location_id: Identifier


class InvoiceEvent(_EventBase):
    type: InvoiceEventType
    data: InvoiceData


PaymentEventType = Literal["payment.succeeded"]
ContactEventType = Literal["contact.updated"]


class PaymentEvent(_EventBase):
    type: PaymentEventType
    data: PaymentData


class ContactEvent(_EventBase):
    type: ContactEventType
    data: Contact


RefundEventType = Literal["payment.refunded"]
InvoiceDeletedEventType = Literal["invoice.deleted"]


class RefundEvent(_EventBase):
    type: RefundEventType
    data: RefundData


class InvoiceDeletedEvent(_EventBase):
    type: InvoiceDeletedEventType
    data: InvoiceDeletedData


# Every event model, spelled once; what each type means to the service (its lock, its sync-log
# subject, its flow) is the table in app/integrations/crm/event_table.py.
CrmEventModel = InvoiceEvent | PaymentEvent | ContactEvent | RefundEvent | InvoiceDeletedEvent
CrmEvent = Annotated[CrmEventModel, Field(discriminator="type")]
CrmEventType = (
    InvoiceEventType
    | PaymentEventType
    | ContactEventType
    | RefundEventType
    | InvoiceDeletedEventType
)
# The types in the order of the union, read from the models' `type` literals.
EVENT_TYPES: tuple[str, ...] = tuple(
    name
    for model in get_args(CrmEventModel)
    for name in get_args(model.model_fields["type"].annotation)
)
_EVENT_ADAPTER: TypeAdapter[CrmEventModel] = TypeAdapter(CrmEvent)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One failed field: ``path`` is dotted with list indices as numbers; "" is the whole body."""

    path: str
    message: str


class EventValidationError(AppError):
    http_status = 422
    public_code = "invalid_event"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e.path or '<body>'}: {e.message}" for e in errors[:5])
        super().__init__(f"invalid CRM event: {summary}")

    def public_detail(self) -> str:
        return "the event failed validation"

    def public_fields(self) -> dict[str, Any]:
        return {"errors": [{"path": e.path, "message": e.message} for e in self.errors]}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError, ArithmeticError) as exc:
        # ValueError: bad UTF-8, bad syntax, NaN/Infinity, over-long integers.
        # ArithmeticError: a number whose exponent even Decimal cannot hold (1E+99999999999999).
        raise EventValidationError([FieldError("", "body is not valid JSON")]) from exc


def _field_error(error: ErrorDetails) -> FieldError:
    loc = list(error["loc"])
    # The discriminated union puts the matched tag first; the sender never wrote it.
    if loc and loc[0] in EVENT_TYPES:
        loc = loc[1:]
    if error["type"] == "union_tag_not_found":
        return FieldError("type", "Field required")
    if error["type"] == "union_tag_invalid":
        return FieldError("type", f"unknown event type; expected one of: {', '.join(EVENT_TYPES)}")
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") in (
        LITERAL_PATTERN,
        TEXT_PATTERN,
    ):
        return FieldError(".".join(str(part) for part in loc), CONTROL_MESSAGE)
    return FieldError(".".join(str(part) for part in loc), error["msg"])


def parse_event(body: bytes) -> CrmEventModel:
    """Validate a raw request body into a typed event or raise :class:`EventValidationError`."""
    document = _load_json(body)
    if not isinstance(document, dict):
        raise EventValidationError([FieldError("", "body must be a JSON object")])
    # JSON can only carry a NUL as the escape \u0000; skip the walk when the body has none.
    bad = nul_path(document) if b"\\u0000" in body else None
    if bad is not None:
        raise EventValidationError([FieldError(bad, "text must not contain a NUL character")])
    try:
        return _EVENT_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise EventValidationError(field_errors(exc)) from None


def validate_event(document: Any) -> CrmEventModel:
    """An already-parsed JSON document (a stored event's payload) as its typed event; raises
    pydantic's ValidationError (see :func:`field_errors`)."""
    return _EVENT_ADAPTER.validate_python(document)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors of an event as dotted field paths relative to the body."""
    return [_field_error(error) for error in exc.errors(include_url=False)]


_KNOWN_TYPES = frozenset(EVENT_TYPES)


def metric_label(event_type: str | None) -> str:
    """The type as a metric label: a known type, else `other` (a refused body can name anything)."""
    return event_type if event_type in _KNOWN_TYPES else "other"
