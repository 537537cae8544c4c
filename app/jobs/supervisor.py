"""Keep a procrastinate worker running across database outages, or give up loudly.

procrastinate's worker stops for good when the database goes away: its heartbeat, listener or
job fetch raises, the worker stops itself (its side-task monitor calls ``stop()``) and
``Worker.run`` returns or raises. Nothing restarts it. The supervisor runs it in a loop: when a
run ends without being asked to, it waits for the database with backoff, hands the jobs the dead
run left ``doing`` back to the queue (nobody else would before the stalled-job sweeper, tens of
seconds later) and starts a fresh worker. When the worker has failed without a stable run for
longer than the give-up time, :meth:`WorkerSupervisor.run` raises :class:`WorkerGaveUpError` so the
process ends non-zero and a process supervisor restarts it (docs/design.md, 6. Operations).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from procrastinate import App, exceptions
from procrastinate.connector import BaseAsyncConnector
from procrastinate.jobs import Status
from procrastinate.manager import JobManager
from procrastinate.worker import Worker

from app.config import WorkerSettings
from app.logging import get_logger
from app.repositories.jobs import orphaned_job_ids
from app.services.worker_state import WorkerState, WorkerStatus

log = get_logger(__name__)

# A run that stayed up this long was healthy: the next failure starts a new streak (and backoff).
STABLE_RUN_S = 30.0
_PROBE_TIMEOUT_S = 3


class WorkerGaveUpError(Exception):
    """The worker could not be kept running for the give-up time; the process must end."""


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with full jitter above half: attempt 1 waits about `base_s`."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


class _SideTaskFailure(logging.Filter):
    """Notices procrastinate's worker stopping itself, and why: it only logs the side task's error
    (then waits for its running jobs, which can take as long as the database is away)."""

    def __init__(self, on_failure: Callable[[BaseException], None]) -> None:
        super().__init__()
        self._on_failure = on_failure
        self.error: BaseException | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "action", None) == "side_task_failed" and self.error is None:
            exc = record.exc_info[1] if record.exc_info else None
            name = getattr(record, "task_name", "side task")
            self.error = exc if exc is not None else RuntimeError(f"{name} failed")
            self._on_failure(self.error)
        return True


async def requeue_orphan(manager: JobManager, job_id: int) -> bool:
    """Put a job whose worker is gone back to `todo`; False when it could not (or need not) be."""
    try:
        await manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
    except exceptions.UniqueViolation:
        # A periodic job with a queueing lock: its next run is already queued, so this one
        # cannot go back to `todo`. Ended as failed, or every sweep would try (and fail) again.
        await manager.finish_job_by_id_async(job_id, Status.FAILED, delete_job=False)
        log.info("jobs.orphan_superseded", job_id=job_id)
        return False
    except exceptions.ConnectorException as exc:
        # Another worker or sweeper was first: nothing left to do.
        log.info("jobs.requeue_skipped", job_id=job_id, error=str(exc).strip())
        return False
    return True


def describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return "the worker stopped on its own (a side task failed)"
    cause = exc.__cause__ or exc.__context__
    text = f"{type(exc).__name__}: {exc}"
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {cause})"
    # procrastinate's messages span lines; a log field and a /readyz reason read better on one.
    return " ".join(text.split())[:300]


class WorkerSupervisor:
    """Runs procrastinate workers one after another until cancelled or out of patience."""

    def __init__(
        self, job_app: App, options: dict[str, Any], settings: WorkerSettings, conninfo: str
    ) -> None:
        self._app = job_app
        self._options = options
        self._settings = settings
        self._conninfo = conninfo
        self._state = WorkerState.STARTING
        self._worker: Worker | None = None
        self._run_started = time.monotonic()
        self._down_at: float | None = None  # when the current run stopped working
        self._failing_since: float | None = None  # start of the current failure streak
        self._restarts = 0
        self._last_error: str | None = None

    def status(self) -> WorkerStatus:
        failing = 0.0 if self._failing_since is None else time.monotonic() - self._failing_since
        worker_id = self._worker.worker_id if self._worker is not None else None
        return WorkerStatus(self._state, worker_id, failing, self._restarts, self._last_error)

    async def run(self) -> None:
        """Run until cancelled (a graceful stop: running jobs finish) or until it gives up."""
        self._app.perform_import_paths()  # type: ignore[no-untyped-call]
        attempt = 0
        try:
            while True:
                error = await self._run_once()
                self._mark_down(time.monotonic())
                if self._failing_since == self._down_at:
                    attempt = 0  # a new streak: back off from the start
                self._state = WorkerState.RECONNECTING
                self._last_error = describe_error(error)
                log.warning(
                    "jobs.worker.lost",
                    error=self._last_error,
                    ran_s=round((self._down_at or 0) - self._run_started, 1),
                    restarts=self._restarts,
                )
                attempt = await self._wait_for_database(attempt)
                dead = self._worker
                await self._requeue_orphans(dead.worker_id if dead is not None else None)
                self._restarts += 1
                log.info(
                    "jobs.worker.reconnected",
                    down_s=round(time.monotonic() - (self._down_at or 0), 1),
                    restarts=self._restarts,
                )
        finally:
            if self._state is not WorkerState.GAVE_UP:
                self._state = WorkerState.STOPPED

    async def _run_once(self) -> BaseException | None:
        """One worker's life; returns why it ended (None: it stopped itself)."""
        worker = Worker(app=self._app, **{**self._app.worker_defaults, **self._options})
        self._worker = worker
        self._run_started, self._down_at = time.monotonic(), None
        self._state = WorkerState.RUNNING
        side_task = _SideTaskFailure(self._stopping)
        worker.logger.addFilter(side_task)
        try:
            await worker.run()  # type: ignore[no-untyped-call]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return side_task.error or exc
        finally:
            worker.logger.removeFilter(side_task)
        return side_task.error

    def _stopping(self, error: BaseException) -> None:
        """procrastinate's worker is stopping itself: it finishes its jobs, then run() ends."""
        self._mark_down(time.monotonic())
        self._state = WorkerState.STOPPING
        self._last_error = describe_error(error)

    def _mark_down(self, at: float) -> None:
        if self._down_at is not None:
            return
        self._down_at = at
        if at - self._run_started >= STABLE_RUN_S:
            self._failing_since = None  # the run before was healthy: a new streak starts
        if self._failing_since is None:
            self._failing_since = at

    def _connector(self) -> BaseAsyncConnector:
        connector = self._app.connector
        assert isinstance(connector, BaseAsyncConnector)
        return connector

    def _give_up_if_due(self) -> None:
        assert self._failing_since is not None
        failing_for = time.monotonic() - self._failing_since
        if failing_for > self._settings.give_up_after_s:
            self._state = WorkerState.GAVE_UP
            log.error(
                "jobs.worker.gave_up",
                failing_for_s=round(failing_for, 1),
                restarts=self._restarts,
                error=self._last_error,
            )
            raise WorkerGaveUpError(
                f"the job worker could not run for {failing_for:.0f} s"
                f" (QBS_WORKER_GIVE_UP_AFTER_S): {self._last_error}"
            )

    async def _wait_for_database(self, attempt: int) -> int:
        """Back off, then probe, until a new connection to the database works."""
        settings = self._settings
        while True:
            attempt += 1
            await asyncio.sleep(
                backoff_s(
                    attempt, settings.reconnect_backoff_base_s, settings.reconnect_backoff_cap_s
                )
            )
            self._give_up_if_due()
            try:
                # A connection of its own: the pool may still hold the dead ones.
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, connect_timeout=_PROBE_TIMEOUT_S, autocommit=True
                )
            except psycopg.Error as exc:
                self._last_error = describe_error(exc)
                continue
            await conn.close()
            return attempt

    async def _requeue_orphans(self, dead_worker_id: int | None) -> None:
        """Hand back the jobs the dead run left `doing`: its job tasks have all ended.

        `dead_worker_id` is None when the worker managed to unregister (procrastinate then forgets
        its id): its jobs were left with no worker, which the query finds as well.
        """
        manager = self._app.job_manager
        requeued: list[int] = []
        try:
            for job_id in await orphaned_job_ids(self._connector(), dead_worker_id):
                if await requeue_orphan(manager, job_id):
                    requeued.append(job_id)
            if dead_worker_id is not None:
                await manager.unregister_worker(dead_worker_id)
        except Exception as exc:
            # The stalled-job sweeper hands them back later; the new worker need not wait for it.
            log.warning("jobs.worker.requeue_failed", worker_id=dead_worker_id, error=repr(exc))
        if requeued:
            log.warning("jobs.worker.requeued", worker_id=dead_worker_id, job_ids=requeued)
