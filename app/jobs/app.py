"""Build the procrastinate app of a process, with every task registered, and its worker options."""

from __future__ import annotations

from typing import Any

from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.middleware import AsyncCallNext

from app import metrics
from app.config import WorkerSettings
from app.db.session import libpq_url
from app.jobs.context import RUNTIME_KEY
from app.jobs.retry import CappedJitterBackoff
from app.jobs.tasks import register_tasks
from app.services.container import Runtime

RECONNECT_TIMEOUT_S = 5.0
CONNECTION_WAIT_S = 10.0


def build_job_app(database_url: str, worker: WorkerSettings) -> App:
    connector = PsycopgConnector(
        conninfo=libpq_url(database_url),
        min_size=1,
        max_size=max(2, worker.concurrency + 2),
        # psycopg_pool's default keeps backing off for minutes after a database outage.
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        # A worker stopping during an outage waits this long to unregister (default 30 s) before
        # its supervisor can reconnect it (app/jobs/supervisor.py).
        timeout=CONNECTION_WAIT_S,
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
        "worker_middleware": [count_job],
    }


async def count_job(call_next: AsyncCallNext, context: JobContext, _worker: Any) -> Any:
    """Count each job this worker runs by task and outcome (a raise is `failed`, retried or not)."""
    task = context.task.name if context.task is not None else "unknown"
    try:
        result = await call_next()
    except BaseException:
        metrics.JOBS.labels(task=task, outcome="failed").inc()
        raise
    metrics.JOBS.labels(task=task, outcome="succeeded").inc()
    return result
