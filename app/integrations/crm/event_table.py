"""What each CRM event type means to this service: one row per type, beside its schema.

Every reader of an event's type reads this table, so they cannot disagree:

- intake (app/services/intake.py): the object whose events run one at a time, in arrival order
  (the job's lock, and the stored row's `object_kind` / `object_id`). An invoice payment locks on
  its invoice, so it never overtakes the invoice it pays;
- the event job (app/sync/crm_to_qbo/handlers.py): the sync-log subject its outcome is recorded
  under (the QuickBooks object the event becomes), also for a stored event that no longer
  passes this version's checks;
- its flow: the branch for its model in app/sync/crm_to_qbo/handlers.py `flow_of`, a `match`
  ending in `assert_never`, so mypy fails when a model of the union has no flow. (This layer
  cannot name the flows themselves: they live in app/sync, which imports this one.)

A type of the schema without a row here, or a row whose model does not carry its type, fails at
import (and in tests/integrations/crm/test_event_table.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

from app.integrations.crm.schemas import (
    EVENT_TYPES,
    ContactEvent,
    CrmEventModel,
    CrmEventType,
    InvoiceDeletedEvent,
    InvoiceEvent,
    PaymentEvent,
    RefundEvent,
)

E = TypeVar("E", bound=CrmEventModel)

# (kind, id) of a CRM object (lock) or of the QuickBooks object an event syncs (sync-log subject).
ObjectKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class EventSpec(Generic[E]):
    model: type[E]
    # The sync-log subject's kind; its id is the event's `data.id`.
    subject_kind: str
    # The CRM object whose events queue behind one another (procrastinate lock of the job).
    lock: Callable[[E], ObjectKey]


def _invoice_lock(event: InvoiceEvent) -> ObjectKey:
    return "invoice", event.data.id


def _payment_lock(event: PaymentEvent) -> ObjectKey:
    # A payment of an invoice changes that invoice's amount paid: it queues behind the invoice.
    if event.data.invoice_id:
        return "invoice", event.data.invoice_id
    return "payment", event.data.id


def _refund_lock(event: RefundEvent) -> ObjectKey:
    # The refunds of one payment run one at a time (their sum is checked against the payment),
    # but not behind the payment's own lock: a refund that arrives first waits by retrying
    # (app/sync/crm_to_qbo/refunds.py), and under the payment's lock that retrying job would
    # hold back the very payment it waits for.
    return "payment_refunds", event.data.payment_id


def _invoice_deleted_lock(event: InvoiceDeletedEvent) -> ObjectKey:
    return "invoice", event.data.id


def _contact_lock(event: ContactEvent) -> ObjectKey:
    return "contact", event.data.id


_INVOICE = EventSpec(InvoiceEvent, "invoice", _invoice_lock)

EVENTS: Mapping[CrmEventType, EventSpec[Any]] = {
    "invoice.sent": _INVOICE,
    "invoice.updated": _INVOICE,
    "invoice.partially_paid": _INVOICE,
    "invoice.paid": _INVOICE,
    "invoice.voided": _INVOICE,
    "payment.succeeded": EventSpec(PaymentEvent, "sales_receipt", _payment_lock),
    "contact.updated": EventSpec(ContactEvent, "customer", _contact_lock),
    "payment.refunded": EventSpec(RefundEvent, "refund", _refund_lock),
    "invoice.deleted": EventSpec(InvoiceDeletedEvent, "invoice", _invoice_deleted_lock),
}


def spec_for(event_type: str) -> EventSpec[Any] | None:
    """The row of a type read back from storage (None: not a type of this version)."""
    return next((spec for name, spec in EVENTS.items() if name == event_type), None)


def lock_key(event: CrmEventModel) -> ObjectKey:
    """The CRM object whose jobs must run in order with this event's."""
    spec: EventSpec[Any] = EVENTS[event.type]
    return spec.lock(event)


def subject(event: CrmEventModel) -> ObjectKey:
    """The sync-log subject of the event: the QuickBooks object kind it becomes, and its CRM id."""
    return EVENTS[event.type].subject_kind, event.data.id


def table_problems() -> list[str]:
    """Where the table and the schema disagree (empty when they agree)."""
    problems = [f"{name}: no row in EVENTS" for name in EVENT_TYPES if name not in EVENTS]
    problems += [f"{name}: not a type of the schema" for name in EVENTS if name not in EVENT_TYPES]
    for name, spec in EVENTS.items():
        if name not in get_args(spec.model.model_fields["type"].annotation):
            problems.append(f"{name}: {spec.model.__name__} does not carry this type")
    unused = set(get_args(CrmEventModel)) - {spec.model for spec in EVENTS.values()}
    problems += [f"{model.__name__}: no row in EVENTS" for model in unused]
    return problems


_PROBLEMS = table_problems()
if _PROBLEMS:  # pragma: no cover - a wrong table stops the service at import
    raise RuntimeError(f"CRM event table disagrees with the schema: {'; '.join(_PROBLEMS)}")
