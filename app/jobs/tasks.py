"""Thin task wrappers: take ids from the job, open a session through sync/, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime

from procrastinate import App, JobContext

from app.errors import AppError
from app.jobs import highlevel_tasks, qbo_tasks
from app.jobs.context import final_attempt, runtime_of
from app.jobs.retry import CappedJitterBackoff
from app.jobs.supervisor import requeue_orphan
from app.logging import get_logger
from app.services import callback_delivery
from app.services import job_names as names
from app.sync import dispatch
from app.sync.connections import resume
from app.sync.doctor import run as doctor
from app.sync.retention import purge as purge_past_retention

log = get_logger(__name__)


async def process_crm_event(context: JobContext, event_row_id: int) -> None:
    runtime = runtime_of(context)
    await dispatch.process_crm_event(
        runtime.session_factory,
        runtime.services,
        runtime.handlers.crm_event,
        event_row_id,
        final_attempt=final_attempt(context, runtime),
    )
    # The sync.result just committed goes out with the deliverer now, not at its next 5 s tick;
    # never sent from here, so a slow CRM cannot hold this job (or its object's lock) open.
    await callback_delivery.wake_deliverer(context.app)


async def resume_connection(context: JobContext, location_id: str) -> None:
    """Re-queue a reconnected location's waiting work (queued by the OAuth callback)."""
    runtime = runtime_of(context)
    await resume.requeue_waiting(runtime.session_factory, context.app, location_id)


async def purge_expired(context: JobContext, timestamp: int) -> None:
    """Delete finished records past their retention (QBS_RETENTION_*), a batch at a time."""
    runtime = runtime_of(context)
    now = datetime.fromtimestamp(timestamp, UTC)
    await purge_past_retention(runtime.session_factory, runtime.settings.retention, now)


async def sweep_stalled(context: JobContext, timestamp: int) -> None:
    """Re-queue jobs whose worker stopped sending heartbeats (killed mid-job)."""
    runtime = runtime_of(context)
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=runtime.settings.worker.stalled_after_s
    )
    for job in stalled:
        assert job.id is not None
        # A periodic job whose next run is already queued cannot be requeued: it is ended.
        if await requeue_orphan(manager, job.id):
            log.warning("jobs.stalled.requeued", job_id=job.id, task=job.task_name, lock=job.lock)


async def initial_import(context: JobContext, connection_id: str) -> None:
    runtime = runtime_of(context)
    await runtime.handlers.initial_import(runtime, connection_id)


async def deliver_callbacks(context: JobContext, timestamp: int) -> None:
    """Send callbacks that are due (new ones, and retries whose backoff has passed)."""
    runtime = runtime_of(context)
    await callback_delivery.drain(
        runtime.session_factory,
        runtime.services.callbacks,
        policy=callback_delivery.DeliveryPolicy.from_settings(runtime.settings),
    )


async def keep_tokens_alive(context: JobContext, timestamp: int) -> None:
    """Refresh idle realms well before their 100-day refresh tokens lapse."""
    runtime = runtime_of(context)
    for realm_id in await dispatch.idle_realms(runtime.session_factory):
        try:
            await runtime.services.tokens.refresh_now(realm_id)
        except AppError as exc:
            log.warning("qbo.token.keepalive_failed", realm_id=realm_id, error=str(exc))


async def run_doctor(context: JobContext, location_id: str, trigger: str) -> None:
    """The settings doctor of one location (queued at connect)."""
    runtime = runtime_of(context)
    try:
        await doctor.run_doctor(runtime.session_factory, runtime.services, location_id, trigger)
    except AppError as exc:
        log.warning("doctor.run_failed", location_id=location_id, error=str(exc))


async def run_doctor_daily(context: JobContext, timestamp: int) -> None:
    """The settings doctor of every active connection, once a day."""
    runtime = runtime_of(context)
    await doctor.run_all(runtime.session_factory, runtime.services, "daily")


def register_tasks(app: App, retry: CappedJitterBackoff) -> None:
    app.task(name=names.CRM_EVENT_TASK, pass_context=True, retry=retry)(process_crm_event)
    app.task(name=names.QBO_CHANGE_TASK, pass_context=True, retry=retry)(
        qbo_tasks.process_change_task
    )
    # One job per realm and entity, a turn at a time (app/sync/qbo_batches.py).
    app.task(name=names.QBO_BATCH_TASK, pass_context=True, retry=retry)(
        qbo_tasks.process_batch_task
    )
    sweeper = app.task(
        name=names.SWEEP_STALLED_TASK, pass_context=True, queueing_lock=names.SWEEP_STALLED_TASK
    )(sweep_stalled)
    # Every 10 s: a killed worker's jobs come back QBS_WORKER_STALLED_AFTER_S + <= 10 s later.
    app.periodic(cron="* * * * * */10", periodic_id=names.SWEEP_STALLED_TASK)(sweeper)
    app.task(name=names.INITIAL_IMPORT_TASK, pass_context=True, retry=retry)(initial_import)
    app.task(name=names.RESUME_TASK, pass_context=True, retry=retry)(resume_connection)
    # One run at a time (lock) and one waiting (queueing lock): a slow CRM takes one slot at most.
    deliver = app.task(
        name=names.DELIVER_CALLBACKS_TASK,
        pass_context=True,
        lock=names.DELIVER_CALLBACKS_TASK,
        queueing_lock=names.DELIVER_CALLBACKS_TASK,
    )(deliver_callbacks)
    # The sixth cron field is seconds: every 5 s, so a retry's ~5 s backoff is honoured.
    app.periodic(cron="* * * * * */5", periodic_id=names.DELIVER_CALLBACKS_TASK)(deliver)
    keepalive = app.task(
        name=names.TOKEN_KEEPALIVE_TASK,
        pass_context=True,
        queueing_lock=names.TOKEN_KEEPALIVE_TASK,
    )(keep_tokens_alive)
    app.periodic(cron="17 3 * * *", periodic_id=names.TOKEN_KEEPALIVE_TASK)(keepalive)
    # Daily; one run at a time (lock) and at most one waiting (queueing lock).
    purge = app.task(
        name=names.PURGE_TASK,
        pass_context=True,
        lock=names.PURGE_TASK,
        queueing_lock=names.PURGE_TASK,
    )(purge_expired)
    app.periodic(cron="41 4 * * *", periodic_id=names.PURGE_TASK)(purge)
    app.task(name=names.CDC_POLL_TASK, pass_context=True, retry=retry)(
        qbo_tasks.poll_connection_task
    )
    poll_all = app.task(
        name=names.CDC_POLL_ALL_TASK, pass_context=True, queueing_lock=names.CDC_POLL_ALL_TASK
    )(qbo_tasks.poll_all_task)
    # Each connection is polled once its own interval (QBS_WORKER_CDC_INTERVAL_S) has passed.
    app.periodic(cron="* * * * * */10", periodic_id=names.CDC_POLL_ALL_TASK)(poll_all)
    poll_highlevel = app.task(
        name=names.HIGHLEVEL_POLL_ALL_TASK,
        pass_context=True,
        queueing_lock=names.HIGHLEVEL_POLL_ALL_TASK,
    )(highlevel_tasks.poll_highlevel_task)
    # Each installed HighLevel location is polled once HIGHLEVEL_POLL_INTERVAL_S has passed.
    app.periodic(cron="* * * * * */10", periodic_id=names.HIGHLEVEL_POLL_ALL_TASK)(poll_highlevel)
    app.task(name=names.DOCTOR_TASK, pass_context=True)(run_doctor)
    doctor_daily = app.task(
        name=names.DOCTOR_DAILY_TASK,
        pass_context=True,
        lock=names.DOCTOR_DAILY_TASK,
        queueing_lock=names.DOCTOR_DAILY_TASK,
    )(run_doctor_daily)
    # Daily, after the token keep-alive (03:17), so the token check sees its refresh.
    app.periodic(cron="53 5 * * *", periodic_id=names.DOCTOR_DAILY_TASK)(doctor_daily)
