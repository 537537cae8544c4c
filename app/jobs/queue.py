"""Build the procrastinate app and defer jobs inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from procrastinate import App, PsycopgConnector
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import WorkerSettings
from app.db.session import libpq_url, raw_connection
from app.jobs import names
from app.jobs.context import RUNTIME_KEY, Runtime
from app.jobs.retry import CappedJitterBackoff
from app.jobs.tasks import register_tasks


def build_job_app(database_url: str, worker: WorkerSettings) -> App:
    connector = PsycopgConnector(
        conninfo=libpq_url(database_url),
        min_size=1,
        max_size=max(2, worker.concurrency + 2),
    )
    app = App(connector=connector)
    retry = CappedJitterBackoff(
        max_attempts=worker.retry_max_attempts, base_s=worker.retry_base_s, cap_s=worker.retry_cap_s
    )
    register_tasks(app, retry)
    return app


def worker_options(runtime: Runtime) -> dict[str, Any]:
    worker = runtime.settings.worker
    return {
        "concurrency": worker.concurrency,
        # The next job waiting on an object's lock is only picked up at the next poll.
        "fetch_job_polling_interval": worker.poll_interval_s,
        "update_heartbeat_interval": worker.heartbeat_interval_s,
        "stalled_worker_timeout": worker.stalled_after_s,
        "install_signal_handlers": False,
        "additional_context": {RUNTIME_KEY: runtime},
    }


async def defer_in_transaction(
    session: AsyncSession, job_app: App, task_name: str, *, lock: str, **task_kwargs: Any
) -> int:
    """Insert the job on the session's own connection: it commits or rolls back with the caller.

    The SAVEPOINT is sent at once (Core-level begin_nested) so that a failed defer cannot leave the
    outer transaction aborted and turn the caller's COMMIT into a silent ROLLBACK.
    """
    connection = await session.connection()
    pg = await raw_connection(session)
    async with connection.begin_nested():
        job_id: int = await job_app.configure_task(task_name, lock=lock, connection=pg).defer_async(
            **task_kwargs
        )
    return job_id


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
    return await defer_in_transaction(
        session,
        job_app,
        names.CRM_EVENT_TASK,
        lock=names.crm_object_lock(location_id, object_kind, object_id),
        event_row_id=row_id,
    )


async def defer_qbo_change(
    session: AsyncSession, job_app: App, *, realm_id: str, entity: str, entity_id: str, row_id: int
) -> int:
    """Queue processing of a stored QBO change behind the other jobs of the same QBO entity."""
    return await defer_in_transaction(
        session,
        job_app,
        names.QBO_CHANGE_TASK,
        lock=names.qbo_entity_lock(realm_id, entity, entity_id),
        change_row_id=row_id,
    )
