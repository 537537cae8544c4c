"""The in-process worker is supervised: it comes back after losing the database, and when it
cannot, /healthz and /readyz say so and the process is asked to stop with a non-zero status.

The fault is the one a database restart causes inside procrastinate: a side task (here the
heartbeat) fails with a connector error, and procrastinate's worker stops itself for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from procrastinate import exceptions
from procrastinate.manager import JobManager
from sqlalchemy import text

from app.config import Settings
from app.db.provision import Database
from app.db.session import SessionFactory
from app.jobs.standalone import run_worker
from app.main import EXIT_WORKER_GAVE_UP, ProcessExit, create_app
from app.services import job_names as names
from app.services.worker_state import WorkerState
from app.state import AppState

DEADLINE_S = 20.0


@dataclass
class HeartbeatFault:
    """Heartbeats fail while `failing` is set, as when the database has gone away."""

    failing: bool = True
    failures: int = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = JobManager.update_heartbeat

        async def update_heartbeat(manager: JobManager, worker_id: int) -> None:
            if self.failing:
                self.failures += 1
                raise exceptions.ConnectorException("server closed the connection unexpectedly")
            await real(manager, worker_id)

        monkeypatch.setattr(JobManager, "update_heartbeat", update_heartbeat)


@dataclass
class Running:
    http: httpx.AsyncClient
    state: AppState
    process_exit: ProcessExit
    stop_requests: list[float]


@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> HeartbeatFault:
    fault = HeartbeatFault(failing=False)
    fault.install(monkeypatch)
    return fault


@pytest.fixture
async def running(
    settings: Settings, database_url: str, db: SessionFactory
) -> AsyncIterator[Running]:
    """The app with its worker: quick heartbeats, quick reconnection, a 3 s give-up time."""
    settings.worker.heartbeat_interval_s = 0.05
    settings.worker.poll_interval_s = 0.05
    settings.worker.reconnect_backoff_base_s = 0.05
    settings.worker.reconnect_backoff_cap_s = 0.1
    settings.worker.give_up_after_s = 3.0
    settings.worker.stalled_after_s = 0.5
    stop_requests: list[float] = []
    process_exit = ProcessExit(request_stop=lambda: stop_requests.append(time.monotonic()))
    app = create_app(
        settings, run_worker=True, database=Database(database_url), process_exit=process_exit
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            state = app.state.qbs
            assert isinstance(state, AppState)
            yield Running(http, state, process_exit, stop_requests)


async def until(condition: Callable[[], Any], what: str) -> None:
    """Wait for `condition()` (a value, or an awaitable of one) to be true, with a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def held_job(running: Running, worker_id: int | None) -> int:
    """A harmless job recorded as held (`doing`) by the worker, in one statement."""
    async with running.state.session_factory() as session, session.begin():
        job_id = (
            await session.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status,"
                    " worker_id) VALUES ('default', :task, '{\"timestamp\": 0}', 'doing', :worker)"
                    " RETURNING id"
                ),
                {"task": names.DELIVER_CALLBACKS_TASK, "worker": worker_id},
            )
        ).scalar_one()
    return int(job_id)


async def job_status(running: Running, job_id: int, wanted: str = "succeeded") -> bool:
    async with running.state.session_factory() as session:
        status = (
            await session.execute(
                text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            )
        ).scalar_one()
    return bool(status == wanted)


async def held_periodic_job_with_its_next_run_queued(running: Running, worker_id: int) -> int:
    """A periodic job (queueing lock) held by the worker, its next run already queued."""
    held = await held_job(running, worker_id)
    async with running.state.session_factory() as session, session.begin():
        # The running worker defers this periodic job too: without the lock, its insert can
        # commit between the DELETE and the INSERT below and take the queueing lock first.
        await session.execute(text("LOCK TABLE procrastinate_jobs IN SHARE ROW EXCLUSIVE MODE"))
        await session.execute(
            text("DELETE FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo'"),
            {"lock": names.DELIVER_CALLBACKS_TASK},
        )
        await session.execute(
            text("UPDATE procrastinate_jobs SET queueing_lock = :lock WHERE id = :id"),
            {"lock": names.DELIVER_CALLBACKS_TASK, "id": held},
        )
        await session.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, queueing_lock,"
                " scheduled_at) VALUES ('default', :task, '{\"timestamp\": 1}', :lock,"
                " now() + interval '1 hour')"
            ),
            {"task": names.DELIVER_CALLBACKS_TASK, "lock": names.DELIVER_CALLBACKS_TASK},
        )
    return held


def worker_state(running: Running) -> WorkerState:
    assert running.state.worker is not None
    return running.state.worker.status().state


async def test_a_worker_that_lost_the_database_comes_back_by_itself(
    running: Running, fault: HeartbeatFault, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failure mode 1: a database restart never stops the worker of `serve` for good."""
    supervisor = running.state.worker
    assert supervisor is not None
    await until(lambda: supervisor.status().worker_id is not None, "the first worker")
    first_id = supervisor.status().worker_id

    # A job it held when the database went away: its outcome could not be recorded.
    orphan = await held_job(running, first_id)
    fault.failing = True
    await until(lambda: fault.failures > 0, "a failed heartbeat")
    fault.failing = False
    await until(
        lambda: (
            supervisor.status().running and supervisor.status().worker_id not in (None, first_id)
        ),
        "a new worker",
    )
    status = supervisor.status()
    assert status.restarts >= 1
    # Handed back by the supervisor at once (not at the stalled-job sweeper's next run), and run.
    await until(lambda: job_status(running, orphan), "the orphaned job to run again")
    assert "jobs.worker.requeued" in capsys.readouterr().out
    assert (await running.http.get("/healthz")).json() == {"status": "ok", "worker": "running"}
    ready = await running.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert running.process_exit.code == 0
    assert not running.stop_requests


async def test_a_worker_that_cannot_come_back_fails_healthz_and_stops_the_process(
    running: Running, fault: HeartbeatFault
) -> None:
    """Failure mode 1: when the worker truly cannot run, the replica says so and exits non-zero."""
    fault.failing = True
    # Failing for longer than QBS_WORKER_STALLED_AFTER_S: this replica is not ready.
    deadline = time.monotonic() + DEADLINE_S
    while (ready := await running.http.get("/readyz")).status_code != 503:
        assert time.monotonic() < deadline, "/readyz never said the worker was down"
        await asyncio.sleep(0.02)
    assert "this replica's job worker is" in ready.json()["jobs"], ready.text
    assert worker_state(running) is not WorkerState.GAVE_UP

    await until(lambda: worker_state(running) is WorkerState.GAVE_UP, "the worker giving up")
    await until(lambda: bool(running.stop_requests), "a request to stop the server")
    health = await running.http.get("/healthz")
    assert health.status_code == 503
    assert "gave_up" in health.json()["worker"]
    assert "ConnectorException" in health.json()["worker"]
    ready = await running.http.get("/readyz")
    assert ready.status_code == 503
    assert "gave_up" in ready.json()["jobs"]
    assert running.process_exit.code == EXIT_WORKER_GAVE_UP
    assert "QBS_WORKER_GIVE_UP_AFTER_S" in (running.process_exit.reason or "")


async def test_the_worker_command_exits_3_when_its_worker_cannot_come_back(
    settings: Settings, db: SessionFactory, fault: HeartbeatFault
) -> None:
    """Failure mode 1: `qbo-sync worker` ends with status 3 when its worker gives up."""
    settings.worker.heartbeat_interval_s = 0.05
    settings.worker.reconnect_backoff_base_s = 0.05
    settings.worker.reconnect_backoff_cap_s = 0.1
    settings.worker.give_up_after_s = 1.0
    fault.failing = True
    code = await asyncio.wait_for(run_worker(settings), timeout=DEADLINE_S)
    assert code == 3
    assert fault.failures > 1


async def test_an_orphaned_periodic_job_whose_next_run_is_queued_is_ended_not_left_doing(
    running: Running, fault: HeartbeatFault
) -> None:
    """Failure mode 1: a periodic job the lost worker held cannot go back to the queue (its next
    run holds the queueing lock); it is ended as failed instead of staying `doing` for ever."""
    supervisor = running.state.worker
    assert supervisor is not None
    await until(lambda: supervisor.status().worker_id is not None, "the first worker")
    worker_id = supervisor.status().worker_id
    assert worker_id is not None
    held = await held_periodic_job_with_its_next_run_queued(running, worker_id)
    fault.failing = True
    await until(lambda: fault.failures > 0, "a failed heartbeat")
    fault.failing = False
    await until(lambda: job_status(running, held, "failed"), "the superseded job to be ended")
