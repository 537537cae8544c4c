"""The database restarts under load: the intake says 503 meanwhile and loses nothing it accepted.

`qbo-sync serve --no-worker` runs as a subprocess against a PostgreSQL cluster of this test alone.
Signed CRM events are sent continuously while the database is stopped (fast shutdown), kept down
for a few seconds and started again on the same data directory and port. A CRM retries what got a
503, as the answer's Retry-After asks; afterwards every event is stored once with its job queued.

The last test runs `serve` WITH its worker, connected to the QBO emulator, and restarts the
database twice under load: the worker must come back by itself and sync every accepted event.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.db import migrate
from app.db.direct import DirectConnection, direct_pool, run_once_retrying_stale
from tests.e2e.sync_helpers import Qbo
from tests.fixtures.connect import AUTH
from tests.fixtures.events import LOCATION, encode, invoice_event, signed_headers
from tests.resilience.load import connect_locations, marked
from tests.resilience.processes import (
    CliProcess,
    PrivatePostgres,
    cli_process,
    free_port,
    private_postgres,
    service_env,
    wait_ready,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SENDERS = 3  # concurrent CRM deliveries, so the service holds several pooled connections
PAUSE_S = 0.05  # between one sender's requests: a steady stream, not a CPU-bound flood
MAX_EVENTS = 5_000  # the load loop's bound whatever happens
WARMUP_ACCEPTED = 15
# How long the database stays down while events keep coming: longer than the intake pool's 5 s
# wait for a connection, so answers are given while it is still down.
DOWN_S = 8.0
# A longer outage: psycopg_pool's reconnection backoff (1, 2, 4, 8, 16, 32 s...) is then asleep
# when the database comes back, while the ORM engine behind /readyz reconnects at once.
LONG_DOWN_S = 19.0
RECOVERY_DEADLINE_S = 60.0
AFTER_RECOVERY_ACCEPTED = 15
REQUEST_TIMEOUT_S = 30.0
ALLOWED = {200, 202, 503}


@dataclass(frozen=True)
class Answer:
    number: int
    event_id: str
    sent_at: float
    answered_at: float
    status: int | None  # None: no HTTP answer at all (reset, refused, timeout)
    detail: str


@dataclass
class Load:
    """CRM deliveries in flight: every answer recorded, stopped by `done` or its bounds."""

    base: str
    answers: list[Answer]
    done: asyncio.Event
    numbers: Iterator[int]

    def accepted_since(self, moment: float) -> int:
        return sum(1 for a in self.answers if a.status == 202 and a.sent_at >= moment)


def event_for(number: int) -> dict[str, Any]:
    # One invoice per event: distinct job locks, as many CRM objects arriving at once.
    return invoice_event(f"evt_restart_{number}", id=f"inv_restart_{number}")


async def deliver(http: httpx.AsyncClient, base: str, number: int) -> Answer:
    payload = event_for(number)
    body = encode(payload)
    sent_at = time.monotonic()
    try:
        response = await http.post(
            f"{base}/v1/crm/events", content=body, headers=signed_headers(body)
        )
    except httpx.HTTPError as exc:
        return Answer(number, payload["id"], sent_at, time.monotonic(), None, repr(exc))
    answered_at = time.monotonic()
    return Answer(number, payload["id"], sent_at, answered_at, response.status_code, response.text)


async def sender(load: Load, http: httpx.AsyncClient, deadline: float) -> None:
    for number in load.numbers:
        if load.done.is_set() or time.monotonic() > deadline:
            return
        load.answers.append(await deliver(http, load.base, number))
        await asyncio.sleep(PAUSE_S)


async def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def readyz(http: httpx.AsyncClient, base: str) -> int | None:
    try:
        return (await http.get(f"{base}/readyz")).status_code
    except httpx.HTTPError:
        return None


def stored_events(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT event_id, id FROM crm_events").fetchall()
    return {event_id: row_id for event_id, row_id in rows}


def queued_jobs(url: str) -> dict[int, list[str]]:
    """Event row id -> statuses of the crm.event.process jobs that carry it."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT (args->>'event_row_id')::bigint, status::text FROM procrastinate_jobs"
            " WHERE task_name = 'crm.event.process'"
        ).fetchall()
    jobs: dict[int, list[str]] = {}
    for row_id, status in rows:
        jobs.setdefault(row_id, []).append(status)
    return jobs


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


@pytest.fixture
def service(cluster: PrivatePostgres, tmp_path: Path) -> Iterator[tuple[str, CliProcess]]:
    """`qbo-sync serve --no-worker` on the private cluster, migrated and ready: (URL, process)."""
    url = cluster.create_database("qbs_restart")
    migrate.upgrade(url)
    port = free_port()
    env = service_env(database_url=url, data_dir=tmp_path / "data", port=port)
    process = cli_process(["serve", "--no-worker"], env, tmp_path, "serve")
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        registered = httpx.post(
            f"{base}/v1/connections",
            json={"location_id": LOCATION, "return_url": "http://127.0.0.1:3000/done"},
            headers=AUTH,
        )
        assert registered.status_code == 201, registered.text
        yield base, process
    finally:
        process.stop()


def describe(answers: list[Answer], limit: int = 5) -> str:
    return json.dumps(
        [
            {"event": a.event_id, "status": a.status, "detail": a.detail[:300]}
            for a in answers[:limit]
        ],
        indent=1,
    )


@dataclass
class Outage:
    """When the database went down and came back, and what /readyz said meanwhile."""

    down_at: float
    up_started: float
    up_at: float
    ready_while_down: list[int | None]
    ready_again_at: float


async def restart_database(
    http: httpx.AsyncClient, base: str, pg: PrivatePostgres, down_s: float, process: CliProcess
) -> Outage:
    """Fast shutdown, `down_s` seconds down (asking /readyz), start, wait for /readyz 200."""
    await asyncio.to_thread(pg.stop)
    down_at = time.monotonic()
    ready_while_down: list[int | None] = []
    while time.monotonic() - down_at < down_s:
        ready_while_down.append(await readyz(http, base))
        await asyncio.sleep(0.3)
    up_started = time.monotonic()
    await asyncio.to_thread(pg.start)
    up_at = time.monotonic()
    deadline = up_at + RECOVERY_DEADLINE_S
    while await readyz(http, base) != 200:
        assert time.monotonic() < deadline, f"/readyz not 200 again:\n{process.log_tail()}"
        await asyncio.sleep(0.1)
    return Outage(down_at, up_started, up_at, ready_while_down, time.monotonic())


def start_load(base: str, http: httpx.AsyncClient) -> tuple[Load, list[asyncio.Task[None]]]:
    numbers = itertools.islice(itertools.count(1), MAX_EVENTS)
    load = Load(base=base, answers=[], done=asyncio.Event(), numbers=numbers)
    deadline = time.monotonic() + 240
    return load, [asyncio.create_task(sender(load, http, deadline)) for _ in range(SENDERS)]


async def stop_load(load: Load, senders: list[asyncio.Task[None]]) -> None:
    load.done.set()
    await asyncio.gather(*senders)


def recovered_after(load: Load, up_at: float) -> Callable[[], bool]:
    """True once enough events got a 202 after the database came back at `up_at`."""
    return lambda: load.accepted_since(up_at) >= AFTER_RECOVERY_ACCEPTED


async def test_intake_survives_a_database_restart_and_loses_nothing_it_accepted(
    service: tuple[str, CliProcess], cluster: PrivatePostgres
) -> None:
    base, process = service
    pg = cluster
    database_url = pg.url("qbs_restart")
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
        load, senders = start_load(base, http)
        try:
            await wait_for(lambda: load.accepted_since(0) >= WARMUP_ACCEPTED, 60, "accepted events")
            outage = await restart_database(http, base, pg, DOWN_S, process)
            await wait_for(
                lambda: load.accepted_since(outage.up_at) >= AFTER_RECOVERY_ACCEPTED,
                RECOVERY_DEADLINE_S,
                f"202s after the restart:\n{process.log_tail()}",
            )
        finally:
            await stop_load(load, senders)
        # The CRM redelivers what got a 503 (the answer says Retry-After), once the service is up.
        unavailable = [a for a in load.answers if a.status == 503]
        redelivered = [await deliver(http, base, a.number) for a in unavailable]

    assert process.alive(), f"serve died:\n{process.log_tail()}"
    wrong = [a for a in load.answers if a.status not in ALLOWED]
    assert not wrong, f"{len(wrong)} answers were not 202/200/503:\n{describe(wrong)}"
    during_outage = [
        a for a in load.answers if outage.down_at <= a.answered_at <= outage.up_started
    ]
    assert during_outage, "no event was answered while the database was down"
    assert all(a.status == 503 for a in during_outage), describe(during_outage)
    assert all(
        a.detail and json.loads(a.detail)["error"] == "unavailable" for a in during_outage
    ), describe(during_outage)
    assert 503 in outage.ready_while_down, outage.ready_while_down
    assert 200 not in outage.ready_while_down, outage.ready_while_down
    assert all(a.status in (200, 202) for a in redelivered), describe(
        [a for a in redelivered if a.status not in (200, 202)]
    )

    accepted = {a.event_id for a in load.answers if a.status == 202}
    accepted |= {a.event_id for a in redelivered if a.status == 202}
    sent = {a.event_id for a in load.answers}
    stored = stored_events(database_url)
    assert accepted <= set(stored), f"accepted but lost: {sorted(accepted - set(stored))[:10]}"
    # Every event sent was stored exactly once: a 503 never half-stored one, a redelivery of an
    # event stored before its 503 answered 200 (duplicate) rather than storing it twice.
    assert set(stored) == sent
    jobs = queued_jobs(database_url)
    unqueued = [event for event, row in stored.items() if jobs.get(row) != ["todo"]]
    assert not unqueued, f"stored without exactly one queued job: {unqueued[:10]}"
    up_at = outage.up_at
    first_202 = min(a.answered_at for a in load.answers if a.status == 202 and a.sent_at >= up_at)
    print(  # noqa: T201 - the figures the issue asks for
        f"sent {len(sent)}, 503 while down {len(during_outage)}, 503 in all {len(unavailable)},"
        f" redelivered as 200 {sum(a.status == 200 for a in redelivered)};"
        f" after the restart /readyz 200 in {outage.ready_again_at - up_at:.2f} s,"
        f" first 202 in {first_202 - up_at:.2f} s"
    )


async def test_intake_accepts_as_soon_as_readyz_says_ready_after_a_longer_outage(
    service: tuple[str, CliProcess], cluster: PrivatePostgres
) -> None:
    base, process = service
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
        load, senders = start_load(base, http)
        try:
            await wait_for(lambda: load.accepted_since(0) >= WARMUP_ACCEPTED, 60, "accepted events")
            outage = await restart_database(http, base, cluster, LONG_DOWN_S, process)
            # A load balancer sends traffic back now: the intake must take it.
            probe = await deliver(http, base, MAX_EVENTS + 1)
        finally:
            await stop_load(load, senders)
    waited = probe.answered_at - outage.ready_again_at
    assert probe.status == 202, (
        f"/readyz was 200 {outage.ready_again_at - outage.up_at:.1f} s after the restart, yet the"
        f" next event got {probe.status} after {waited:.1f} s: {probe.detail}"
    )


# --- the worker inside `serve` survives restarts ------------------------------------------------
# A fast worker: quick polls and heartbeats, retries in seconds, reconnection probes every <= 1 s.
WORKER_ENV = {
    "QBS_WORKER_POLL_INTERVAL_S": "0.1",
    "QBS_WORKER_HEARTBEAT_INTERVAL_S": "1",
    "QBS_WORKER_STALLED_AFTER_S": "5",
    "QBS_WORKER_RETRY_BASE_S": "0.2",
    "QBS_WORKER_RETRY_CAP_S": "2",
    "QBS_WORKER_RECONNECT_BACKOFF_CAP_S": "1",
    # A restart can fall between a QBO create and the transaction storing its answer; the write
    # intent then waits this long before its lookup (production: longer than QBO's own request
    # timeout), which must fit in SYNC_DEADLINE_S here.
    "QBO_WRITE_SETTLE_S": "2",
}
RESTARTS = 2
WORKER_DOWN_S = 3.0
SYNC_DEADLINE_S = 60.0
WORKER_LOAD_PAUSE_S = 0.1


def synced_event_for(number: int) -> dict[str, Any]:
    """An invoice created after the location was connected (earlier ones are not synced)."""
    return invoice_event(
        f"evt_worker_{number}",
        id=f"inv_worker_{number}",
        number=f"W-{number}",
        created_at="2099-01-01T00:00:00Z",
        updated_at="2099-01-01T00:00:00Z",
    )


async def deliver_synced(http: httpx.AsyncClient, base: str, number: int) -> Answer:
    payload = synced_event_for(number)
    body = encode(payload)
    sent_at = time.monotonic()
    try:
        response = await http.post(
            f"{base}/v1/crm/events", content=body, headers=signed_headers(body)
        )
    except httpx.HTTPError as exc:
        return Answer(number, payload["id"], sent_at, time.monotonic(), None, repr(exc))
    return Answer(
        number, payload["id"], sent_at, time.monotonic(), response.status_code, response.text
    )


async def synced_sender(load: Load, http: httpx.AsyncClient, deadline: float) -> None:
    for number in load.numbers:
        if load.done.is_set() or time.monotonic() > deadline:
            return
        load.answers.append(await deliver_synced(http, load.base, number))
        await asyncio.sleep(WORKER_LOAD_PAUSE_S)


def event_states(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT event_id, state::text FROM crm_events").fetchall()
    return {event_id: state for event_id, state in rows}


def done_count(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM crm_events WHERE state = 'done'").fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


@dataclass
class WorkerOutage:
    outage: Outage
    first_sync_s: float  # from the database back to the next event synced


async def restart_under_worker(
    http: httpx.AsyncClient, base: str, pg: PrivatePostgres, url: str, process: CliProcess
) -> WorkerOutage:
    """Restart the database; wait for /readyz 200 and for the worker to sync an event again."""
    await asyncio.to_thread(pg.stop)
    down_at = time.monotonic()
    ready_while_down: list[int | None] = []
    while time.monotonic() - down_at < WORKER_DOWN_S:
        ready_while_down.append(await readyz(http, base))
        await asyncio.sleep(0.3)
    up_started = time.monotonic()
    await asyncio.to_thread(pg.start)
    up_at = time.monotonic()
    synced_before = await asyncio.to_thread(done_count, url)
    ready_again_at: float | None = None
    synced_at: float | None = None
    while ready_again_at is None or synced_at is None:
        now = time.monotonic()
        assert now - up_at < SYNC_DEADLINE_S, (
            f"after the restart: /readyz 200 at {ready_again_at}, an event synced at"
            f" {synced_at}:\n{process.log_tail()}"
        )
        if ready_again_at is None and await readyz(http, base) == 200:
            ready_again_at = time.monotonic()
        if synced_at is None and await asyncio.to_thread(done_count, url) > synced_before:
            synced_at = time.monotonic()
        await asyncio.sleep(0.1)
    outage = Outage(down_at, up_started, up_at, ready_while_down, ready_again_at)
    return WorkerOutage(outage, synced_at - up_at)


@pytest.fixture
def serve_with_worker(
    cluster: PrivatePostgres, emulator: str, tmp_path: Path
) -> Iterator[tuple[str, CliProcess]]:
    """`qbo-sync serve` (with its worker) on the private cluster, talking to the emulator."""
    url = cluster.create_database("qbs_restart")
    migrate.upgrade(url)
    port = free_port()
    env = service_env(
        database_url=url,
        data_dir=tmp_path / "data",
        port=port,
        emulator_url=emulator,
        CRM_RETURN_URL_ORIGINS="https://crm.example.com",
        **WORKER_ENV,
    )
    process = cli_process(["serve"], env, tmp_path, "serve")
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base, process
    finally:
        process.stop()


async def test_worker_in_serve_syncs_everything_across_two_database_restarts(
    serve_with_worker: tuple[str, CliProcess], cluster: PrivatePostgres, emulator: str
) -> None:
    """Failure mode 1: a database restart never stops `serve`'s worker.

    `serve` runs with its worker; the database is restarted twice under load. Every event
    accepted before, during and after the restarts ends synced, once, in QuickBooks.
    """
    base, process = serve_with_worker
    url = cluster.url("qbs_restart")
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
        (location,) = await connect_locations(http, base, emulator, [LOCATION])
        numbers = itertools.islice(itertools.count(1), MAX_EVENTS)
        load = Load(base=base, answers=[], done=asyncio.Event(), numbers=numbers)
        deadline = time.monotonic() + 120
        senders = [asyncio.create_task(synced_sender(load, http, deadline)) for _ in range(2)]
        outages: list[WorkerOutage] = []
        try:
            await wait_for(lambda: load.accepted_since(0) >= WARMUP_ACCEPTED, 60, "accepted events")
            for _ in range(RESTARTS):
                outage = await restart_under_worker(http, base, cluster, url, process)
                outages.append(outage)
                await wait_for(
                    recovered_after(load, outage.outage.up_at),
                    RECOVERY_DEADLINE_S,
                    f"202s after the restart:\n{process.log_tail()}",
                )
        finally:
            await stop_load(load, senders)
        unavailable = [a for a in load.answers if a.status == 503]
        redelivered = [await deliver_synced(http, base, a.number) for a in unavailable]

        accepted = {a.event_id for a in load.answers if a.status == 202}
        accepted |= {a.event_id for a in redelivered if a.status == 202}
        synced_at = time.monotonic()
        states: dict[str, str] = {}
        while time.monotonic() - synced_at < SYNC_DEADLINE_S:
            states = await asyncio.to_thread(event_states, url)
            if all(states.get(event) == "done" for event in accepted):
                break
            await asyncio.sleep(0.5)
        invoices = await Qbo(emulator, location.realm_id).all("Invoice")

    assert process.alive(), f"serve died:\n{process.log_tail()}"
    wrong = [a for a in load.answers + redelivered if a.status not in ALLOWED]
    assert not wrong, f"{len(wrong)} answers were not 202/200/503:\n{describe(wrong)}"
    not_synced = {e: states.get(e) for e in accepted if states.get(e) != "done"}
    assert not not_synced, (
        f"{len(not_synced)} of {len(accepted)} accepted events not synced:"
        f" {dict(sorted(not_synced.items())[:10])}\n{process.log_tail()}"
    )
    for event in sorted(accepted):
        number = event.removeprefix("evt_worker_")
        found = marked(invoices, "invoice", f"inv_worker_{number}")
        assert len(found) == 1, f"{event}: {len(found)} QBO invoices"
    assert "jobs.worker.reconnected" in process.log(), process.log_tail()
    print(  # noqa: T201 - the figures the README quotes
        f"worker in serve: {len(accepted)} events accepted, {len(unavailable)} got 503 and were"
        f" redelivered, all synced across {RESTARTS} restarts of {WORKER_DOWN_S:.0f} s;"
        f" after each restart /readyz 200 in"
        f" {[round(o.outage.ready_again_at - o.outage.up_at, 2) for o in outages]} s,"
        f" first event synced in {[round(o.first_sync_s, 2) for o in outages]} s"
    )


async def test_the_intake_pool_answers_at_once_after_a_restart_left_it_dead_connections(
    cluster: PrivatePostgres,
) -> None:
    """Failure mode 1: after a restart, idle pooled connections are all dead; the first
    statement must still succeed (the intake would answer 503 while /readyz says 200)."""
    url = cluster.create_database("qbs_pool")
    async with direct_pool(url, max_size=4) as pool:

        async def busy() -> None:
            async with pool.connection() as conn:
                await conn.execute("SELECT pg_sleep(0.2)")

        await asyncio.gather(*(busy() for _ in range(4)))
        assert pool.get_stats()["pool_available"] == 4
        await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(cluster.start)

        async def one(conn: DirectConnection) -> int:
            row = await (await conn.execute("SELECT 1")).fetchone()
            assert row is not None
            return int(row[0])

        assert await run_once_retrying_stale(pool, one) == 1


def test_a_worker_that_cannot_reach_the_database_ends_serve_non_zero(
    cluster: PrivatePostgres, tmp_path: Path
) -> None:
    """Failure mode 1: a worker that truly cannot come back ends `serve` with a non-zero status
    (3), so a process supervisor restarts it (`qbo-sync worker`: tests/jobs/test_supervisor.py)."""
    command = ["serve"]
    url = cluster.create_database("qbs_gone")
    migrate.upgrade(url)
    port = free_port()
    env = service_env(
        database_url=url,
        data_dir=tmp_path / "data",
        port=port,
        QBS_WORKER_HEARTBEAT_INTERVAL_S="0.5",
        QBS_WORKER_RECONNECT_BACKOFF_CAP_S="0.5",
        QBS_WORKER_GIVE_UP_AFTER_S="3",
    )
    process = cli_process(command, env, tmp_path, command[0])
    process.start()
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        cluster.stop()
        assert process.popen is not None
        started = time.monotonic()
        code = process.popen.wait(timeout=60)
        ended_s = time.monotonic() - started
    finally:
        process.stop()
    assert code == 3, process.log_tail()
    assert "jobs.worker.gave_up" in process.log(), process.log_tail()
    print(f"serve: exited {code} {ended_s:.1f} s after the database went away")  # noqa: T201
