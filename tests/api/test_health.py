from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.provision import Database
from app.main import create_app
from app.state import AppState
from tests.fixtures.events import PostEvent, invoice_event


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "current"


async def test_readyz_is_503_on_an_unmigrated_database(
    settings: Settings, scratch_database: str
) -> None:
    app = create_app(settings, run_worker=False, database=Database(scratch_database))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert "migrate" in response.json()["migrations"]


@pytest.mark.usefixtures("db")
async def test_readyz_is_503_when_the_database_is_gone(
    settings: Settings, client: httpx.AsyncClient, service: object
) -> None:
    from app.state import AppState

    state = service.state.qbs  # type: ignore[attr-defined]
    assert isinstance(state, AppState)
    await state.engine.dispose()
    from app.db.session import create_engine

    # Point the service at a port nothing listens on, as if the server had gone away.
    state.engine = create_engine("postgresql://postgres@127.0.0.1:9/none")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    await state.engine.dispose()


async def test_responses_carry_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_connections_need_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections", json={"location_id": "x"})
    assert response.status_code == 401
    wrong = await client.post(
        "/v1/connections", json={"location_id": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401


# --- readiness tells the truth about this replica ----------------------------------------------
async def _age_jobs(state: AppState, seconds: int) -> None:
    """Pretend every job was deferred `seconds` ago."""
    async with state.session_factory() as session, session.begin():
        await session.execute(
            text("UPDATE procrastinate_events SET at = now() - make_interval(secs => :s)"),
            {"s": seconds},
        )


async def _retry_later(state: AppState, job_id: int) -> None:
    """The job failed once and waits for its retry in 10 minutes (a poison event, a QBO outage)."""
    async with state.session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now() + interval '10 minutes',"
                " attempts = 1 WHERE id = :id"
            ),
            {"id": job_id},
        )


async def _job_ids(state: AppState) -> list[int]:
    async with state.session_factory() as session:
        rows = await session.execute(text("SELECT id FROM procrastinate_jobs ORDER BY id"))
    return [int(job_id) for (job_id,) in rows]


async def _live_worker(state: AppState) -> None:
    """Another replica's worker, alive: it registered and sends heartbeats."""
    async with state.session_factory() as session, session.begin():
        await session.execute(text("SELECT procrastinate_register_worker_v1()"))


@pytest.mark.usefixtures("location")
async def test_a_job_behind_a_retrying_job_of_its_object_keeps_readyz_200(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    """Failure mode 2: readiness is about this replica, not about one object's retries.

    An invoice's first event fails and waits for its retry; the invoice's next event waits
    behind it (same lock) for an hour. No worker could take it, so no replica is unready.
    """
    assert (await post_event(invoice_event("evt_r1", id="inv_poison"))).status_code == 202
    second = invoice_event("evt_r2", type_="invoice.updated", id="inv_poison")
    assert (await post_event(second)).status_code == 202
    first_job, _ = await _job_ids(state)
    await _retry_later(state, first_job)
    await _age_jobs(state, 3600)

    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["jobs_runnable"] == 0


@pytest.mark.usefixtures("location")
async def test_readyz_is_503_when_a_runnable_job_waits_and_no_worker_is_alive(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    """Failure mode 2: no live worker heartbeat and a runnable job waiting over the limit."""
    assert (await post_event(invoice_event("evt_r3", id="inv_fine"))).status_code == 202
    await _age_jobs(state, 3600)

    response = await client.get("/readyz")
    assert response.status_code == 503
    reason = response.json()["jobs"]
    assert "1 runnable job(s) waiting" in reason
    assert "no worker is registered" in reason
    assert "QBS_READY_MAX_JOB_WAIT_S" in reason


@pytest.mark.usefixtures("location")
async def test_a_late_job_with_a_live_worker_elsewhere_keeps_readyz_200(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    """Failure mode 2: a busy queue with live workers is not a reason to stop the intake."""
    assert (await post_event(invoice_event("evt_r4", id="inv_busy"))).status_code == 202
    await _age_jobs(state, 3600)
    await _live_worker(state)

    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["live_workers"] == 1
    assert "saturated or stuck" in body["jobs_note"]
