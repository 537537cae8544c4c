"""QBO -> CRM: apply stored QBO changes (webhooks and CDC alike) in batches per realm and entity.

Changes reach here from the `qbo.changes.batch` job of their realm and entity
(app/sync/qbo_batches.py takes a turn through them). Each change locks its row, claims the realm's
other pending changes of the same entity (SKIP LOCKED), reads them all with one query
(`Id IN (...)`) and applies them oldest first, marking each. A change a sibling already finished
is a no-op. Handlers always reconcile to the object as QBO has it now, so duplicate and reordered
notifications change nothing.

Wiring (app/jobs/tasks.py): `register()` in `register_tasks`. `process_change_task` stays the body
of the `qbo.change.process` task only so that jobs queued by an earlier version still run; nothing
queues that task any more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, QboChange
from app.models.states import ConnectionStatus, InboundState
from app.repositories import connections, qbo_change_batches, qbo_changes
from app.services.container import Services
from app.sync import dispatch
from app.sync.flow import FlowContext, flow_context
from app.sync.qbo_to_crm import customers as qbo_customers
from app.sync.qbo_to_crm.invoices import process_invoices, process_payments

BATCH_LIMIT = 200
_FINISHED = {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}
_EARLIEST = datetime.min.replace(tzinfo=UTC)

EntityFlow = Callable[[FlowContext, Sequence[QboChange]], Awaitable[dict[int, str]]]
FLOWS: dict[str, EntityFlow] = {
    "Customer": qbo_customers.process,
    "Invoice": process_invoices,
    "Payment": process_payments,
}


def _inactive_reason(connection: Connection | None) -> str | None:
    if connection is None:
        return "skipped: no connection uses this QuickBooks company"
    if connection.status is not ConnectionStatus.ACTIVE:
        return (
            f"skipped: the connection is {connection.status.value}; the CDC poll after a "
            "reconnect catches up"
        )
    return None


def _order(change: QboChange) -> tuple[datetime, int]:
    return (change.occurred_at or _EARLIEST, change.id)


async def handle_change(
    session: AsyncSession, services: Services, change: QboChange
) -> dispatch.Outcome:
    await qbo_change_batches.lock_batch(session, change.realm_id, change.entity)
    row = await qbo_change_batches.lock_change(session, change.id)
    if row is None:
        return dispatch.Outcome(InboundState.SKIPPED, "the change row is gone")
    if row.state in _FINISHED:
        # Processed by a sibling job's batch while this job waited for the row.
        return dispatch.Outcome(row.state, row.state_reason)
    connection = await connections.get_by_realm(session, row.realm_id)
    reason = _inactive_reason(connection)
    if reason is not None or connection is None:
        return dispatch.Outcome(InboundState.SKIPPED, reason)
    siblings = await qbo_change_batches.claim_pending(
        session, row.realm_id, row.entity, exclude_id=row.id, limit=BATCH_LIMIT
    )
    batch = sorted([row, *siblings], key=_order)
    ctx = flow_context(session, services, connection)
    results = await FLOWS[row.entity](ctx, batch)
    for sibling in siblings:
        await qbo_changes.mark(
            session, sibling.id, InboundState.DONE, results.get(sibling.id, "processed in a batch")
        )
    return dispatch.Outcome(InboundState.DONE, results.get(row.id))


def register() -> None:
    for entity in FLOWS:
        dispatch.QBO_CHANGE_HANDLERS[entity] = handle_change
