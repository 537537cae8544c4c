"""CRM event handlers: route each stored event to its flow and record the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import PermanentError
from app.integrations.crm.schemas import ContactEvent, CrmEvent, InvoiceEvent, PaymentEvent
from app.integrations.quickbooks.errors import QboError, action_for
from app.models import CrmEvent as CrmEventRow
from app.models.states import ConnectionStatus, InboundState, SyncState
from app.repositories import connections
from app.repositories import sync_log as sync_log_repo
from app.sync import dispatch, sync_log
from app.sync.customers import update_linked
from app.sync.document_lines import TaxCodeCache
from app.sync.flow import FlowContext, flow_context
from app.sync.invoices import sync_invoice
from app.sync.results import SyncResult, failed, skipped, synced
from app.sync.sales_receipts import sync_payment

if TYPE_CHECKING:
    from app.wiring import Services

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
        return failed(
            kind,
            crm_id,
            f"QuickBooks kept failing and the retries ran out: {exc.message}",
            "Retry this entry once QuickBooks answers again",
            error=exc,
        )
    except PermanentError as exc:
        return failed(kind, crm_id, str(exc), None)


async def handle_crm_event(
    session: AsyncSession, services: Services, row: CrmEventRow
) -> dispatch.Outcome:
    connection = await connections.get_by_location(session, row.location_id)
    if connection is None or connection.status is not ConnectionStatus.ACTIVE:
        status = connection.status.value if connection else "not connected"
        return dispatch.Outcome(
            InboundState.PENDING, f"paused: QuickBooks is {status} for this location"
        )
    event = _EVENT.validate_python(row.payload)
    ctx = flow_context(session, services, connection)
    ctx.document = subject(event)
    ctx.generation = await sync_log_repo.failed_count(session, connection.id, *ctx.document)
    result = await _run_flow(ctx, event, services.tax_codes)
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
