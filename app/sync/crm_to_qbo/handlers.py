"""CRM event handlers: route each stored event to its flow and record the result."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import PermanentError
from app.integrations.crm.schemas import (
    ContactEvent,
    CrmEvent,
    InvoiceEvent,
    PaymentEvent,
    field_errors,
)
from app.integrations.quickbooks.errors import QboError, action_for
from app.logging import get_logger
from app.models import CrmEvent as CrmEventRow
from app.models.states import ConnectionStatus, InboundState, SyncState
from app.repositories import connections
from app.repositories import sync_log as sync_log_repo
from app.services.container import Services
from app.services.tax_codes import TaxCodeCache
from app.services.tokens import ConnectionPausedError
from app.sync import dispatch, sync_log
from app.sync.crm_to_qbo.customers import update_linked
from app.sync.crm_to_qbo.invoices import sync_invoice
from app.sync.crm_to_qbo.sales_receipts import sync_payment
from app.sync.flow import FlowContext, flow_context
from app.sync.results import SyncResult, describe, failed, gave_up, skipped, synced

log = get_logger(__name__)

_EVENT: TypeAdapter[InvoiceEvent | PaymentEvent | ContactEvent] = TypeAdapter(CrmEvent)
_STATE = {
    SyncState.SYNCED: InboundState.DONE,
    SyncState.SKIPPED: InboundState.SKIPPED,
    SyncState.FAILED: InboundState.FAILED,
}


def subject(event: InvoiceEvent | PaymentEvent | ContactEvent) -> tuple[str, str]:
    if isinstance(event, InvoiceEvent):
        return "invoice", event.data.id
    if isinstance(event, PaymentEvent):
        return "sales_receipt", event.data.id
    return "customer", event.data.id


async def _sync_contact(ctx: FlowContext, event: ContactEvent, _: TaxCodeCache) -> SyncResult:
    customer_id = await update_linked(ctx, event.data)
    if customer_id is None:
        return skipped(
            "customer",
            event.data.id,
            "not linked yet: the QuickBooks customer is made at the contact's first invoice "
            "or payment",
        )
    return synced("customer", event.data.id, customer_id)


async def _run_flow(
    ctx: FlowContext, event: InvoiceEvent | PaymentEvent | ContactEvent, cache: TaxCodeCache
) -> SyncResult:
    kind, crm_id = subject(event)
    try:
        if isinstance(event, InvoiceEvent):
            return await sync_invoice(ctx, event, cache)
        if isinstance(event, PaymentEvent):
            return await sync_payment(ctx, event, cache)
        return await _sync_contact(ctx, event, cache)
    except QboError as exc:
        if isinstance(exc, PermanentError):
            return failed(kind, crm_id, exc.message, action_for(exc), error=exc)
        if not dispatch.FINAL_ATTEMPT.get():
            raise
        # Partial writes stay: they record QBO objects that exist (their requestids replay).
        return gave_up(kind, crm_id, exc)
    except PermanentError as exc:
        return failed(kind, crm_id, str(exc), None)


async def _guarded_flow(
    ctx: FlowContext, event: InvoiceEvent | PaymentEvent | ContactEvent, cache: TaxCodeCache
) -> SyncResult:
    """The flow, with any other failure on the last attempt turned into a failed result.

    A query the builder refused, no request slot in time, a bug in a mapping: retried like a QBO
    outage, and once the retries are spent it ends exactly as a QBO failure does (failed entry,
    `sync.result`, Retry), never as an event left waiting for ever. Its partial writes are
    rolled back first, since the session may be in any state after an unexpected error.
    """
    try:
        async with ctx.session.begin_nested():
            return await _run_flow(ctx, event, cache)
    except ConnectionPausedError:
        raise
    except Exception as exc:
        if not dispatch.FINAL_ATTEMPT.get():
            raise
        log.error("crm.event.gave_up", error=describe(exc), exc_info=exc)
        return gave_up(*subject(event), exc)


class StoredEventInvalidError(PermanentError):
    pass


def _stored_event(row: CrmEventRow) -> InvoiceEvent | PaymentEvent | ContactEvent:
    try:
        return _EVENT.validate_python(row.payload)
    except ValidationError as exc:
        # Stored by a version with looser checks: retrying cannot make it valid.
        problems = "; ".join(f"{e.path}: {e.message}" for e in field_errors(exc)[:3])
        raise StoredEventInvalidError(
            f"the stored event does not pass this version's checks ({problems}); the CRM must "
            "send the object again with valid data"
        ) from None


def _row_subject(row: CrmEventRow) -> tuple[str, str]:
    kind = {"contact": "customer", "payment": "sales_receipt"}.get(row.object_kind)
    return kind or row.object_kind, row.object_id


async def handle_crm_event(
    session: AsyncSession, services: Services, row: CrmEventRow
) -> dispatch.Outcome:
    connection = await connections.get_by_location(session, row.location_id)
    if connection is None or connection.status is not ConnectionStatus.ACTIVE:
        status = connection.status.value if connection else "not connected"
        return dispatch.Outcome(
            InboundState.PENDING, f"paused: QuickBooks is {status} for this location"
        )
    ctx = flow_context(session, services, connection)
    try:
        event = _stored_event(row)
    except StoredEventInvalidError as exc:
        ctx.document = _row_subject(row)
        result = failed(*ctx.document, str(exc), None)
    else:
        ctx.document = subject(event)
        ctx.generation = await sync_log_repo.failed_count(session, connection.id, *ctx.document)
        result = await _guarded_flow(ctx, event, services.tax_codes)
    await sync_log.record(ctx, result, crm_event_id=row.id, event_id=row.event_id)
    return dispatch.Outcome(_STATE[result.state], sync_log.outcome_reason(result))


def register() -> None:
    for event_type in (
        "invoice.sent",
        "invoice.updated",
        "invoice.partially_paid",
        "invoice.paid",
        "invoice.voided",
        "payment.succeeded",
        "contact.updated",
    ):
        dispatch.CRM_EVENT_HANDLERS[event_type] = handle_crm_event
