"""Defer jobs inside the caller's transaction (intake, sync flows, resume)."""

from __future__ import annotations

import uuid
from typing import Any

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import raw_connection
from app.repositories.crm_intake import JobRow
from app.repositories.qbo_changes import GroupJob
from app.services import job_names as names

CRM_EVENT_ROW_ARG = "event_row_id"


async def defer_in_transaction(
    session: AsyncSession,
    job_app: App,
    task_name: str,
    *,
    lock: str,
    queueing_lock: str | None = None,
    **task_kwargs: Any,
) -> int:
    """Insert the job on the session's own connection: it commits or rolls back with the caller.

    The SAVEPOINT is sent at once (Core-level begin_nested) so that a failed defer cannot leave the
    outer transaction aborted and turn the caller's COMMIT into a silent ROLLBACK (a queueing
    lock already held raises procrastinate's AlreadyEnqueued, and the transaction carries on).
    """
    connection = await session.connection()
    pg = await raw_connection(session)
    async with connection.begin_nested():
        job_id: int = await job_app.configure_task(
            task_name, lock=lock, queueing_lock=queueing_lock, connection=pg
        ).defer_async(**task_kwargs)
    return job_id


def crm_event_job(job_app: App, *, location_id: str, object_kind: str, object_id: str) -> JobRow:
    """The job row for a CRM event stored by the one-statement intake (same as defer_crm_event).

    Read from the task's own configuration, so queue and priority follow the task definition.
    """
    job = (
        job_app.tasks[names.CRM_EVENT_TASK]
        .configure(lock=names.crm_object_lock(location_id, object_kind, object_id))
        .job
    )
    return JobRow(
        queue=job.queue,
        task=job.task_name,
        priority=job.priority,
        lock=job.lock,
        args=dict(job.task_kwargs),
        row_arg=CRM_EVENT_ROW_ARG,
    )


async def defer_crm_event(
    session: AsyncSession,
    job_app: App,
    *,
    location_id: str,
    object_kind: str,
    object_id: str,
    row_id: int,
) -> int:
    """Queue processing of a stored CRM event behind the other jobs of the same CRM object."""
    task_kwargs: dict[str, Any] = {CRM_EVENT_ROW_ARG: row_id}
    return await defer_in_transaction(
        session,
        job_app,
        names.CRM_EVENT_TASK,
        lock=names.crm_object_lock(location_id, object_kind, object_id),
        **task_kwargs,
    )


def qbo_batch_job(job_app: App, *, realm_id: str, entity: str, after_id: int = 0) -> GroupJob:
    """The job that processes a realm's pending changes of one entity, a turn at a time.

    Read from the task's own configuration (as crm_event_job), for the one-statement webhook
    intake (app/repositories/qbo_changes.py store_and_queue) and for defer_qbo_batch.
    """
    job = (
        job_app.tasks[names.QBO_BATCH_TASK]
        .configure(
            lock=names.qbo_batch_lock(realm_id, entity),
            task_kwargs={"realm_id": realm_id, "entity": entity, "after_id": after_id},
        )
        .job
    )
    return GroupJob(
        realm_id=realm_id,
        entity=entity,
        queue=job.queue,
        task=job.task_name,
        priority=job.priority,
        lock=job.lock,
        args=dict(job.task_kwargs),
    )


async def defer_qbo_batch(
    session: AsyncSession, job_app: App, *, realm_id: str, entity: str, after_id: int = 0
) -> int:
    """Queue a turn of the realm's entity, at the back of the queue (app/sync/qbo_batches.py)."""
    return await defer_in_transaction(
        session,
        job_app,
        names.QBO_BATCH_TASK,
        lock=names.qbo_batch_lock(realm_id, entity),
        realm_id=realm_id,
        entity=entity,
        after_id=after_id,
    )


async def defer_cdc_poll(session: AsyncSession, job_app: App, connection_id: uuid.UUID) -> int:
    """Queue an immediate change-data-capture poll in the caller's transaction (a reconnect's)."""
    return await defer_in_transaction(
        session,
        job_app,
        names.CDC_POLL_TASK,
        lock=names.cdc_lock(str(connection_id)),
        connection_id=str(connection_id),
    )
