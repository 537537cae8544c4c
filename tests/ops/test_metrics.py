"""GET /metrics moves with the work done, and /readyz fails on a job left waiting too long."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app.state import AppState
from tests.fixtures.events import PostEvent, invoice_event
from tests.jobs.test_worker import run_jobs

pytestmark = pytest.mark.usefixtures("location")


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def age_waiting_jobs(state: AppState, seconds: int) -> None:
    """Pretend every waiting job was deferred `seconds` ago."""
    async with state.session_factory() as session:
        await session.execute(
            text("UPDATE procrastinate_events SET at = now() - make_interval(secs => :s)"),
            {"s": seconds},
        )
        await session.commit()


async def test_an_event_counts_received_and_its_job_counts_once_run(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    before = await scrape(client)
    assert (await post_event(invoice_event("evt_m1"))).status_code == 202
    assert (await post_event(invoice_event("evt_m1"))).status_code == 200
    assert (await post_event(b"{not json")).status_code in (401, 422)
    after = await scrape(client)
    received = "qbs_events_received_total"
    for outcome in ("accepted", "duplicate"):
        key = {"source": "crm", "type": "invoice.sent", "outcome": outcome}
        assert value(after, received, **key) == value(before, received, **key) + 1
    rejected = {"source": "crm", "type": "other", "outcome": "rejected"}
    assert value(after, received, **rejected) == value(before, received, **rejected) + 1
    assert value(after, "qbs_queue_depth") >= 1

    await run_jobs(state)
    ran = await scrape(client)
    jobs = "qbs_jobs_total"
    job_counts = [
        value(ran, jobs, task="crm.event.process", outcome=outcome)
        - value(before, jobs, task="crm.event.process", outcome=outcome)
        for outcome in ("succeeded", "failed")
    ]
    assert sum(job_counts) >= 1
    assert value(ran, "qbs_queue_depth") == 0
    assert value(ran, "qbs_queue_oldest_wait_seconds") == 0


async def test_queue_age_and_readyz_follow_the_oldest_waiting_job(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    assert (await post_event(invoice_event("evt_m2"))).status_code == 202
    await age_waiting_jobs(state, 3600)

    samples = await scrape(client)
    assert value(samples, "qbs_queue_depth") == 1
    assert 3590 <= value(samples, "qbs_queue_oldest_wait_seconds") <= 3700

    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "QBS_READY_MAX_JOB_WAIT_S" in response.json()["jobs"]
    assert "is a worker running" in response.json()["jobs"]

    state.settings.ready_max_job_wait_s = 7200
    assert (await client.get("/readyz")).status_code == 200


async def test_a_job_scheduled_for_later_is_not_waiting(
    client: httpx.AsyncClient, post_event: PostEvent, state: AppState
) -> None:
    assert (await post_event(invoice_event("evt_m3"))).status_code == 202
    await age_waiting_jobs(state, 3600)
    async with state.session_factory() as session:
        await session.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() + interval '1 minute'")
        )
        await session.commit()
    samples = await scrape(client)
    assert value(samples, "qbs_queue_depth") == 0
    assert (await client.get("/readyz")).status_code == 200
