"""Task bodies of QuickBooks -> CRM: ids from the job, then app/sync/qbo_to_crm; nothing more."""

from __future__ import annotations

import uuid

from procrastinate import JobContext

from app.db.session import session_scope
from app.jobs.context import final_attempt, runtime_of
from app.logging import get_logger
from app.services import callback_delivery
from app.services.job_queue import defer_qbo_batch
from app.sync import dispatch
from app.sync.qbo_to_crm import batches, cdc

log = get_logger(__name__)


async def poll_all_task(context: JobContext, timestamp: int) -> None:
    """Periodic task body: poll the connections that are due, then wake the deliverer."""
    runtime = runtime_of(context)
    await cdc.poll_all(runtime, context.app)
    await callback_delivery.wake_deliverer(context.app)


async def poll_connection_task(context: JobContext, connection_id: str) -> None:
    """Task body of an immediate poll of one connection (job_queue.defer_cdc_poll queues it)."""
    await cdc.poll_now(runtime_of(context), context.app, uuid.UUID(connection_id))


async def process_change_task(context: JobContext, change_row_id: int) -> None:
    """Task body for `qbo.change.process`: process, then wake the callback deliverer."""
    runtime = runtime_of(context)
    # As for CRM events: the last attempt records any failure as the change's final outcome.
    await dispatch.process_qbo_change(
        runtime.session_factory,
        runtime.services,
        runtime.handlers.qbo_change,
        change_row_id,
        final_attempt=final_attempt(context, runtime),
    )
    # Sent by the deliverer job, never from here: a slow CRM must not hold this job open.
    await callback_delivery.wake_deliverer(context.app)


async def process_batch_task(
    context: JobContext, realm_id: str, entity: str, after_id: int = 0
) -> None:
    """Task body for `qbo.changes.batch`: one turn, then the continuation if changes remain."""
    runtime = runtime_of(context)
    turn = await batches.take_turn(
        runtime.session_factory,
        runtime.services,
        runtime.handlers.qbo_change,
        realm_id,
        entity,
        after_id=after_id,
        final_attempt=final_attempt(context, runtime),
    )
    if turn.more:
        async with session_scope(runtime.session_factory) as session:
            await defer_qbo_batch(
                session, context.app, realm_id=realm_id, entity=entity, after_id=turn.last_id
            )
    log.info(
        "qbo.batch.turn",
        realm_id=realm_id,
        entity=entity,
        started=turn.started,
        last_id=turn.last_id,
        more=turn.more,
    )
    if turn.started:
        # Sent by the deliverer job, never from here: a slow CRM must not hold this job open.
        await callback_delivery.wake_deliverer(context.app)
