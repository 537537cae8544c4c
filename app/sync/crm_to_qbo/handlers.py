"""The CRM event handler: run a stored event's flow and record the result.

What each event type means (its sync-log subject, its lock) is the table beside the schema
(app/integrations/crm/event_table.py); its flow is its model's branch in `flow_of`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import assert_never

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import PermanentError
from app.integrations.crm.event_table import ObjectKey, spec_for, subject
from app.integrations.crm.schemas import (
    ContactEvent,
    CrmEventModel,
    InvoiceDeletedEvent,
    InvoiceEvent,
    PaymentEvent,
    RefundEvent,
    field_errors,
    validate_event,
)
from app.integrations.quickbooks.errors import QboError, action_for
from app.logging import get_logger
from app.models import CrmEvent as CrmEventRow
from app.models.states import ConnectionStatus, InboundState, SyncState
from app.repositories import connections, reconciliation
from app.repositories import sync_log as sync_log_repo
from app.services.container import Outcome, Services
from app.services.tax_codes import TaxCodeCache
from app.services.tokens import ConnectionPausedError
from app.sync import sync_log
from app.sync.crm_to_qbo.customers import update_linked
from app.sync.crm_to_qbo.invoice_deletes import delete_invoice
from app.sync.crm_to_qbo.invoices import sync_invoice
from app.sync.crm_to_qbo.refunds import sync_refund
from app.sync.crm_to_qbo.sales_receipts import sync_payment
from app.sync.flow import FlowContext, flow_context
from app.sync.results import SyncResult, describe, failed, gave_up, skipped, synced

log = get_logger(__name__)

_STATE = {
    SyncState.SYNCED: InboundState.DONE,
    SyncState.SKIPPED: InboundState.SKIPPED,
    SyncState.FAILED: InboundState.FAILED,
}


async def _sync_contact(ctx: FlowContext, event: ContactEvent) -> SyncResult:
    customer_id = await update_linked(ctx, event.data)
    if customer_id is None:
        return skipped(
            "customer",
            event.data.id,
            "not linked yet: the QuickBooks customer is made at the contact's first invoice "
            "or payment",
        )
    return synced("customer", event.data.id, customer_id)


# An event's flow, bound to the event: given the flow context and the tax-code cache.
Flow = Callable[[FlowContext, TaxCodeCache], Awaitable[SyncResult]]


def flow_of(event: CrmEventModel) -> Flow:
    """Each event model's flow. A model of the union without a branch fails mypy at
    `assert_never`, and tests/sync/test_event_tables.py for every event type."""
    match event:
        case InvoiceEvent():
            return lambda ctx, cache: sync_invoice(ctx, event, cache)
        case PaymentEvent():
            return lambda ctx, cache: sync_payment(ctx, event, cache)
        case ContactEvent():
            return lambda ctx, _: _sync_contact(ctx, event)
        case RefundEvent():
            return lambda ctx, cache: sync_refund(ctx, event, cache)
        case InvoiceDeletedEvent():
            return lambda ctx, _: delete_invoice(ctx, event)
        case _:
            assert_never(event)


async def _outcome_of_flow(
    ctx: FlowContext, event: CrmEventModel, cache: TaxCodeCache, *, final_attempt: bool
) -> SyncResult:
    kind, crm_id = subject(event)
    try:
        return await flow_of(event)(ctx, cache)
    except QboError as exc:
        if isinstance(exc, PermanentError):
            return failed(kind, crm_id, exc.message, action_for(exc), error=exc)
        if not final_attempt:
            raise
        # Partial writes stay: they record QBO objects that exist (their requestids replay).
        return gave_up(kind, crm_id, exc)
    except PermanentError as exc:
        return failed(kind, crm_id, str(exc), None)


async def _guarded_flow(
    ctx: FlowContext, event: CrmEventModel, cache: TaxCodeCache, *, final_attempt: bool
) -> SyncResult:
    """The flow, with any other failure on the last attempt turned into a failed result.

    A query the builder refused, no request slot in time, a bug in a mapping: retried like a QBO
    outage, and once the retries are spent it ends exactly as a QBO failure does (failed entry,
    `sync.result`, Retry), never as an event left waiting for ever. Its partial writes are
    rolled back first, since the session may be in any state after an unexpected error.
    """
    try:
        async with ctx.session.begin_nested():
            return await _outcome_of_flow(ctx, event, cache, final_attempt=final_attempt)
    except ConnectionPausedError:
        raise
    except Exception as exc:
        if not final_attempt:
            raise
        log.error("crm.event.gave_up", error=describe(exc), exc_info=exc)
        return gave_up(*subject(event), exc)


class StoredEventInvalidError(PermanentError):
    pass


def _stored_event(row: CrmEventRow) -> CrmEventModel:
    try:
        return validate_event(row.payload)
    except ValidationError as exc:
        # Stored by a version with looser checks: retrying cannot make it valid.
        problems = "; ".join(f"{e.path}: {e.message}" for e in field_errors(exc)[:3])
        raise StoredEventInvalidError(
            f"the stored event does not pass this version's checks ({problems}); the CRM must "
            "send the object again with valid data"
        ) from None


def _row_subject(row: CrmEventRow) -> ObjectKey:
    """The sync-log subject of a stored event that no longer parses, from its type's row."""
    spec = spec_for(row.type)
    data = row.payload.get("data")
    crm_id = data.get("id") if isinstance(data, dict) else None
    if spec is None or not isinstance(crm_id, str) or not crm_id:
        # A type or a body this version cannot read: the object it queued behind names it.
        return row.object_kind, row.object_id
    return spec.subject_kind, crm_id


async def handle_crm_event(
    session: AsyncSession, services: Services, row: CrmEventRow, *, final_attempt: bool
) -> Outcome:
    """The CRM event handler (app/services/container.py `CrmEventHandler`)."""
    connection = await connections.get_by_location(session, row.location_id)
    if connection is None or connection.status is not ConnectionStatus.ACTIVE:
        status = connection.status.value if connection else "not connected"
        return Outcome(InboundState.PENDING, f"paused: QuickBooks is {status} for this location")
    ctx = flow_context(session, services, connection)
    try:
        event = _stored_event(row)
    except StoredEventInvalidError as exc:
        ctx.document = _row_subject(row)
        result = failed(*ctx.document, str(exc), None)
    else:
        ctx.document = subject(event)
        # Failed runs and Re-syncs from the reconciliation report each start a new generation.
        ctx.generation = await sync_log_repo.failed_count(
            session, connection.id, *ctx.document
        ) + await reconciliation.resync_count(session, connection.id, *ctx.document)
        result = await _guarded_flow(ctx, event, services.tax_codes, final_attempt=final_attempt)
    await sync_log.record(ctx, result, crm_event_id=row.id, event_id=row.event_id)
    return Outcome(_STATE[result.state], sync_log.outcome_reason(result))
