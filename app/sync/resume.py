"""Resume a connection's waiting work after a (re)connect, and queue its initial import."""

from __future__ import annotations

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs import names
from app.jobs.queue import defer_crm_event, defer_in_transaction, defer_qbo_change
from app.logging import get_logger
from app.models import Connection
from app.repositories import crm_events, qbo_changes
from app.sync import cdc

log = get_logger(__name__)


async def requeue_pending(session: AsyncSession, job_app: App, connection: Connection) -> int:
    """Defer a job for every inbound record of the connection that still waits.

    A second job for a record is harmless: jobs of one object run in order under its lock and a
    finished record is never processed again.
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
        for row_id, entity, entity_id in await qbo_changes.pending_for_realm(
            session, connection.realm_id
        ):
            await defer_qbo_change(
                session,
                job_app,
                realm_id=connection.realm_id,
                entity=entity,
                entity_id=entity_id,
                row_id=row_id,
            )
            count += 1
    log.info("sync.resume.requeued", location_id=connection.location_id, jobs=count)
    return count


async def after_connect(
    session: AsyncSession, job_app: App, connection: Connection, first_time: bool
) -> None:
    # An import cut short (paused by a disconnect, out of retries) resumes from its last page.
    if connection.realm_id and (first_time or connection.import_state != "done"):
        await defer_in_transaction(
            session,
            job_app,
            names.INITIAL_IMPORT_TASK,
            lock=f"import:{connection.realm_id}",
            connection_id=str(connection.id),
        )
    # Whatever webhooks were missed while disconnected: ask QBO at once, not at the next poll.
    if not first_time:
        await cdc.defer_poll_now(session, job_app, connection.id)
    await requeue_pending(session, job_app, connection)
