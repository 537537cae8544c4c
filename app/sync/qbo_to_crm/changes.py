"""QBO -> CRM: apply stored QBO changes (webhooks and CDC alike) in batches per realm and entity.

Changes reach here from the `qbo.changes.batch` job of their realm and entity
(app/sync/qbo_batches.py takes a turn through them). Each change locks its row, claims the realm's
other pending changes of the same entity (SKIP LOCKED), settles the echoes of our own writes
without a read (app/sync/own_echoes.py), reads the rest with one query (`Id IN (...)`) and
applies them oldest first, marking each. A change a sibling already finished
is a no-op. Handlers always reconcile to the object as QBO has it now, so duplicate and reordered
notifications change nothing.

`handle_change` is the change handler app/wiring.py hands the job runner; which entities reach it
is the table app/integrations/quickbooks/change_entities.py, and `FLOWS` has one flow for each
entity the table syncs (checked below at import). `process_change_task` stays the body of the
`qbo.change.process` task only so that jobs queued by an earlier version still run; nothing
queues that task any more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.quickbooks.change_entities import SYNCED_ENTITIES
from app.models import Connection, QboChange
from app.models.states import ConnectionStatus, InboundState
from app.repositories import connections, qbo_change_batches, qbo_changes
from app.services.container import Outcome, Services
from app.sync.flow import FlowContext, flow_context
from app.sync.own_echoes import take_echoes
from app.sync.qbo_to_crm import customers as qbo_customers
from app.sync.qbo_to_crm.invoices import process_invoices, process_payments

BATCH_LIMIT = 200
_FINISHED = {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}
_EARLIEST = datetime.min.replace(tzinfo=UTC)

EntityFlow = Callable[[FlowContext, Sequence[QboChange]], Awaitable[dict[int, str]]]
FLOWS: Mapping[str, EntityFlow] = {
    "Customer": qbo_customers.process,
    "Invoice": process_invoices,
    "Payment": process_payments,
}


def flow_problems() -> list[str]:
    """Where FLOWS and the entity table disagree (empty when they agree)."""
    missing = [f"{name}: synced, but no flow" for name in SYNCED_ENTITIES if name not in FLOWS]
    return missing + [
        f"{name}: a flow the table does not sync" for name in FLOWS if name not in SYNCED_ENTITIES
    ]


_PROBLEMS = flow_problems()
if _PROBLEMS:  # pragma: no cover - a missing flow stops the service at import
    raise RuntimeError(f"QBO change flows disagree with the entity table: {'; '.join(_PROBLEMS)}")


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


async def handle_change(session: AsyncSession, services: Services, change: QboChange) -> Outcome:
    """The QBO change handler (app/services/container.py `QboChangeHandler`)."""
    await qbo_change_batches.lock_batch(session, change.realm_id, change.entity)
    row = await qbo_change_batches.lock_change(session, change.id)
    if row is None:
        return Outcome(InboundState.SKIPPED, "the change row is gone")
    if row.state in _FINISHED:
        # Processed by a sibling job's batch while this job waited for the row.
        return Outcome(row.state, row.state_reason)
    connection = await connections.get_by_realm(session, row.realm_id)
    reason = _inactive_reason(connection)
    if reason is not None or connection is None:
        return Outcome(InboundState.SKIPPED, reason)
    siblings = await qbo_change_batches.claim_pending(
        session, row.realm_id, row.entity, exclude_id=row.id, limit=BATCH_LIMIT
    )
    batch = sorted([row, *siblings], key=_order)
    ctx = flow_context(session, services, connection)
    # Webhooks of our own writes are settled from the link, without reading QBO.
    results = await take_echoes(ctx, batch)
    rest = [change for change in batch if change.id not in results]
    if rest:
        results.update(await FLOWS[row.entity](ctx, rest))
    for sibling in siblings:
        await qbo_changes.mark(
            session, sibling.id, InboundState.DONE, results.get(sibling.id, "processed in a batch")
        )
    return Outcome(InboundState.DONE, results.get(row.id))
