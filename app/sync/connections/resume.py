"""Resume a connection's waiting work after a (re)connect, and queue its initial import.

The OAuth callback only queues jobs: one import, one CDC poll and one resume job per connection.
The resume job re-queues every waiting inbound record in the background, so a company with
thousands of waiting events does not hold the browser's callback request (or its transaction).
"""

from __future__ import annotations

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope
from app.integrations.quickbooks.change_entities import SYNCED_ENTITIES
from app.logging import get_logger
from app.models import Connection
from app.models.states import ConnectionStatus, ImportState
from app.repositories import connections, crm_events, qbo_changes
from app.services import job_names as names
from app.services.job_queue import (
    defer_cdc_poll,
    defer_crm_event,
    defer_in_transaction,
    defer_qbo_batch,
)

log = get_logger(__name__)


async def requeue_pending(session: AsyncSession, job_app: App, connection: Connection) -> int:
    """Defer a job for every inbound record of the connection that still waits (for QBO changes,
    one batch job per entity).

    A second job for a record is harmless: jobs of one object run in order under its lock and a
    finished record is never processed again. QBO changes of entities without a flow are not
    re-queued: they are skipped when first processed, and would only be skipped again.
    """
    count = 0
    for row_id, kind, object_id in await crm_events.pending_for_location(
        session, connection.location_id
    ):
        await defer_crm_event(
            session,
            job_app,
            location_id=connection.location_id,
            object_kind=kind,
            object_id=object_id,
            row_id=row_id,
        )
        count += 1
    if connection.realm_id:
        waiting = await qbo_changes.pending_for_realm(
            session, connection.realm_id, entities=sorted(SYNCED_ENTITIES)
        )
        # One batch job per entity takes them in turns (app/sync/qbo_batches.py): a job per
        # change would put thousands of them ahead of every other location's work.
        for entity in sorted({entity for _, entity, _ in waiting}):
            await defer_qbo_batch(session, job_app, realm_id=connection.realm_id, entity=entity)
            count += 1
    log.info("sync.resume.requeued", location_id=connection.location_id, jobs=count)
    return count


async def requeue_waiting(factory: SessionFactory, job_app: App, location_id: str) -> int:
    """Body of the resume job: re-queue the location's waiting work if it is still connected."""
    async with session_scope(factory) as session:
        connection = await connections.get_by_location(session, location_id)
        if connection is None or connection.status is not ConnectionStatus.ACTIVE:
            # Disconnected again meanwhile: the next reconnect queues a resume job of its own.
            log.info("sync.resume.not_active", location_id=location_id)
            return 0
        return await requeue_pending(session, job_app, connection)


async def defer_resume(session: AsyncSession, job_app: App, location_id: str) -> None:
    """Queue the resume job in the caller's transaction; one waiting per location is enough."""
    try:
        await defer_in_transaction(
            session,
            job_app,
            names.RESUME_TASK,
            lock=names.resume_lock(location_id),
            queueing_lock=names.resume_lock(location_id),
            location_id=location_id,
        )
    except AlreadyEnqueued:
        # A resume job that has not started yet will see everything waiting now.
        log.info("sync.resume.already_queued", location_id=location_id)


async def after_connect(
    session: AsyncSession, job_app: App, connection: Connection, first_time: bool
) -> None:
    # An import cut short (paused by a disconnect, out of retries) resumes from its last page.
    if connection.realm_id and (first_time or connection.import_phase is not ImportState.DONE):
        await defer_in_transaction(
            session,
            job_app,
            names.INITIAL_IMPORT_TASK,
            lock=f"import:{connection.realm_id}",
            connection_id=str(connection.id),
        )
    # Whatever webhooks were missed while disconnected: ask QBO at once, not at the next poll.
    if not first_time:
        await defer_cdc_poll(session, job_app, connection.id)
    await defer_resume(session, job_app, connection.location_id)
