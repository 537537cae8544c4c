"""The worker process is SIGKILLed mid-job, several times, and restarted.

`qbo-sync worker` runs as a subprocess on the test database, talking to the emulator; the intake
runs in process. A mixed CRM workload is posted in waves; after each wave but the last, the worker
is killed with SIGKILL while it holds jobs (no handler runs, its jobs stay `doing`) and started
again. The stalled-job sweeper must hand the dead worker's jobs to the new one. Afterwards, as
in the fault test: every event finished (synced, skipped, or failed with a reason) with one
sync-log entry, nothing pending, and QuickBooks holds exactly what the CRM sent: one customer per
contact, one invoice per CRM invoice with the CRM's balance, one sales receipt per standalone
payment, no duplicate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.session import SessionFactory
from qbo_emulator.config import EmulatorConfig
from tests.resilience import sizes
from tests.resilience.load import (
    QboState,
    build_workload,
    check_events,
    check_qbo,
    connect_locations,
    post_all,
    settle,
)
from tests.resilience.processes import CliProcess, cli_process, free_port, service_env

KILLS = 10 if sizes.FULL else 3
# The dead worker's jobs come back at the sweeper's next run (every minute, on the minute) once
# its last heartbeat is older than QBS_WORKER_STALLED_AFTER_S: up to a minute more than settling.
SWEEP_PERIOD_S = 60.0
SETTLE_S = sizes.SETTLE_S + SWEEP_PERIOD_S
pytestmark = [pytest.mark.slow, pytest.mark.timeout(sizes.TEST_TIMEOUT_S + 2 * SWEEP_PERIOD_S)]

CRM_TASK = "crm.event.process"
# The worker's settings: a heartbeat every second and "stalled" after 5 s without one (default
# 30 s) so recovery waits for the sweeper's next minute, not half a minute more; quick retries.
WORKER_ENV = {
    "QBS_WORKER_HEARTBEAT_INTERVAL_S": "1",
    "QBS_WORKER_STALLED_AFTER_S": "5",
    "QBS_WORKER_POLL_INTERVAL_S": "0.1",
    "QBS_WORKER_RETRY_BASE_S": "0.2",
    "QBS_WORKER_RETRY_CAP_S": "2",
    # A create the kill cut off is looked up 2 s after it was sent (QBO's 120 s + margin in
    # production); the emulator's answers take 30 ms here.
    "QBO_WRITE_SETTLE_S": "2",
}
# Each QBO call takes a little while, so a job is in flight long enough to be killed in it.
QBO_LATENCY_MS = 30
# Once the worker holds a job, a random pause, then the kill as soon as it holds one (again).
KILL_AFTER_S = (0.0, 0.5)
DEADLINE_S = 60.0


@pytest.fixture
def emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    """The directory's auto-consenting emulator, a little slower."""
    return replace(emulator_config, latency_ms=QBO_LATENCY_MS)


@pytest.fixture
def run_worker() -> bool:
    """The intake only: the worker is the subprocess this test kills."""
    return False


@pytest.fixture
def worker(database_url: str, emulator: str, tmp_path: Path) -> Iterator[CliProcess]:
    env = service_env(
        database_url=database_url,
        data_dir=tmp_path / "worker-data",
        port=free_port(),
        emulator_url=emulator,
        **WORKER_ENV,
    )
    process = cli_process(["worker"], env, tmp_path, "worker")
    try:
        yield process
    finally:
        process.stop()


@dataclass(frozen=True)
class Kill:
    worker_id: int
    at: float  # time.monotonic() of the kill
    interrupted: int  # CRM event jobs the dead worker left `doing`


async def scalar(db: SessionFactory, sql: str, **params: Any) -> int:
    async with db() as session:
        value = (await session.execute(text(sql), params)).scalar()
    return int(value or 0)


async def newest_worker_id(db: SessionFactory) -> int:
    return await scalar(db, "SELECT max(id) FROM procrastinate_workers")


async def doing(db: SessionFactory, worker_id: int) -> int:
    # `>=`: the process's supervisor may have re-registered its worker (a newer id) meanwhile; the
    # workers of processes killed earlier all have smaller ids.
    return await scalar(
        db,
        "SELECT count(*) FROM procrastinate_jobs"
        " WHERE status = 'doing' AND task_name = :task AND worker_id >= :worker",
        task=CRM_TASK,
        worker=worker_id,
    )


async def start_worker(process: CliProcess, db: SessionFactory) -> int:
    """Start the worker; returns its procrastinate worker id once it has registered."""
    before = await newest_worker_id(db)
    process.start()
    deadline = time.monotonic() + DEADLINE_S
    while (worker_id := await newest_worker_id(db)) <= before:
        assert process.alive(), f"the worker exited:\n{process.log_tail()}"
        assert time.monotonic() < deadline, f"the worker did not register:\n{process.log_tail()}"
        await asyncio.sleep(0.05)
    return worker_id


async def holding(
    process: CliProcess, db: SessionFactory, worker_id: int, posted: asyncio.Event
) -> None:
    """Wait until the worker holds a CRM event job, or has finished the whole wave."""
    deadline = time.monotonic() + DEADLINE_S
    while not await doing(db, worker_id):
        assert process.alive(), f"the worker exited:\n{process.log_tail()}"
        assert time.monotonic() < deadline, "the worker never held a job to be killed in"
        # A fast worker can finish a wave between two looks: then this kill interrupts nothing
        # (the test requires that some kill did), rather than waiting for a job that never comes.
        if posted.is_set() and not await unfinished_jobs(db):
            return
        await asyncio.sleep(0.01)


async def kill_mid_job(
    process: CliProcess,
    db: SessionFactory,
    worker_id: int,
    rng: random.Random,
    posted: asyncio.Event,
) -> Kill:
    """SIGKILL at a random moment while the worker is processing CRM event jobs."""
    await holding(process, db, worker_id, posted)
    await asyncio.sleep(rng.uniform(*KILL_AFTER_S))
    await holding(process, db, worker_id, posted)
    process.kill()
    # The process is gone: what it left `doing` is exactly what it was killed in.
    return Kill(worker_id, time.monotonic(), await doing(db, worker_id))


async def unfinished_jobs(db: SessionFactory) -> int:
    return await scalar(
        db,
        "SELECT count(*) FROM procrastinate_jobs"
        " WHERE task_name = :task AND status IN ('todo', 'doing', 'failed')",
        task=CRM_TASK,
    )


def waves(events: Sequence[dict[str, Any]], count: int) -> list[list[dict[str, Any]]]:
    size = -(-len(events) // count)
    return [list(events[start : start + size]) for start in range(0, len(events), size)]


async def test_killed_workers_lose_nothing_and_duplicate_nothing(
    live_service: tuple[str, Settings],
    worker: CliProcess,
    emulator: str,
    db: SessionFactory,
    http: httpx.AsyncClient,
) -> None:
    base, _ = live_service
    # Started first: connecting waits for each location's connect-time import, a worker's job.
    worker_id = await start_worker(worker, db)
    names = [f"loc_k{n}" for n in range(sizes.REALMS)]
    locations = await connect_locations(http, base, emulator, names)
    # Every other company does not replay requestids: a create the kill cut off is found again
    # only by the second guard there (app/sync/crm_to_qbo/lookups.py).
    for location in locations[::2]:
        company = f"{emulator}/_emulator/companies/{location.realm_id}"
        assert (await http.patch(company, json={"honor_requestid": False})).status_code == 200
    workload = build_workload(names, sizes.EVENTS, seed=88)
    rng = random.Random(88)
    statuses: dict[tuple[str, str], list[int]] = {}
    kills: list[Kill] = []
    started = time.monotonic()
    for number, wave in enumerate(waves(workload.events, KILLS + 1)):
        posted = asyncio.Event()
        # Watching starts before the wave is posted, so the first jobs are seen as they start.
        killer = (
            asyncio.create_task(kill_mid_job(worker, db, worker_id, rng, posted))
            if number < KILLS
            else None
        )
        statuses |= await post_all(http, [base], wave)
        posted.set()
        if killer is not None:
            kills.append(await killer)
            worker_id = await start_worker(worker, db)
    await settle(db, len(workload.events), SETTLE_S)
    settled_s = time.monotonic() - started

    refused = {key: s for key, s in statuses.items() if s != [202]}
    assert not refused, f"the intake refused events: {refused}"
    assert len(kills) == KILLS
    assert sum(k.interrupted for k in kills) > 0, f"no kill interrupted a job: {kills}"
    assert worker.alive(), f"the last worker died:\n{worker.log_tail()}"
    # The dead workers' jobs were handed back by the sweeper, not left `doing` for ever.
    log = worker.log()
    assert "jobs.stalled.requeued" in log, worker.log_tail()
    assert await unfinished_jobs(db) == 0

    problems, states = await check_events(db, statuses)
    for location in locations:
        state = await QboState.read(emulator, location.realm_id)
        expected = workload.expected[location.location_id]
        problems += [f"{location.location_id}: {p}" for p in check_qbo(state, expected)]
    print(  # noqa: T201 - the figures the issue asks to see
        f"resilience/worker kill: {len(workload.events)} events over {len(locations)} realms"
        f" ({'full' if sizes.FULL else 'CI'} size), {KILLS} kills"
        f" at {[round(k.at - started, 1) for k in kills]} s interrupting"
        f" {[k.interrupted for k in kills]} jobs,"
        f" {log.count('jobs.stalled.requeued')} requeued by the sweeper;"
        f" settled {settled_s:.1f} s after the first post; {dict(sorted(states.items()))}"
    )
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:100])
