"""Group commit of the CRM intake: many events at once, each stored exactly once with its job."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.db.session import SessionFactory, session_scope
from tests.fixtures.events import PostEvent, invoice_event

pytestmark = pytest.mark.usefixtures("location")


def _invoice(n: int, **data: Any) -> dict[str, Any]:
    return invoice_event(f"evt_{n}", **{"id": f"inv_{n}", "number": f"INV-{n}", **data})


async def _jobs_by_event(db: SessionFactory) -> dict[str, tuple[str, int]]:
    """event id -> (job lock, event row id the job points at)."""
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT e.event_id, j.lock, (j.args->>'event_row_id')::bigint, e.id "
                "FROM procrastinate_jobs j JOIN crm_events e "
                "ON e.id = (j.args->>'event_row_id')::bigint"
            )
        )
        out = {}
        for event_id, lock, job_row, row_id in rows:
            assert job_row == row_id
            out[event_id] = (lock, row_id)
        return out


async def test_a_burst_of_events_is_stored_once_each_with_its_own_job(
    post_event: PostEvent, db: SessionFactory
) -> None:
    responses = await asyncio.gather(*(post_event(_invoice(n)) for n in range(150)))

    assert [r.status_code for r in responses] == [202] * 150
    jobs = await _jobs_by_event(db)
    assert len(jobs) == 150
    assert all(jobs[f"evt_{n}"][0] == f"crm:loc_1:invoice:inv_{n}" for n in range(150))


async def test_copies_in_one_burst_are_duplicates_and_a_changed_body_is_a_conflict(
    post_event: PostEvent, db: SessionFactory
) -> None:
    same = [post_event(_invoice(1)) for _ in range(10)]
    changed = [post_event(_invoice(1, number="INV-other")) for _ in range(3)]
    others = [post_event(_invoice(n)) for n in range(2, 30)]
    responses = await asyncio.gather(*same, *changed, *others)

    first = sorted(r.status_code for r in responses[:13])
    # Exactly one copy of evt_1 is stored; whichever body won, the other kind conflicts.
    assert first.count(202) == 1
    assert set(first) <= {200, 202, 409}
    assert first.count(409) in (3, 10)
    assert [r.status_code for r in responses[13:]] == [202] * 28
    assert len(await _jobs_by_event(db)) == 29


_FAIL_ONE_EVENT = """
CREATE FUNCTION qbs_test_refuse_evt_13() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_id = 'evt_13' THEN
        RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER qbs_test_refuse_evt_13 BEFORE INSERT ON crm_events
    FOR EACH ROW EXECUTE FUNCTION qbs_test_refuse_evt_13();
"""
_ALLOW_ALL = """
DROP TRIGGER IF EXISTS qbs_test_refuse_evt_13 ON crm_events;
DROP FUNCTION IF EXISTS qbs_test_refuse_evt_13();
"""


async def test_one_event_that_breaks_the_statement_does_not_take_its_batch_down(
    post_event: PostEvent, db: SessionFactory
) -> None:
    async with session_scope(db) as session:
        await session.execute(text(_FAIL_ONE_EVENT))
    try:
        responses = await asyncio.gather(*(post_event(_invoice(n)) for n in range(40)))
    finally:
        async with session_scope(db) as session:
            await session.execute(text(_ALLOW_ALL))

    codes = {n: r.status_code for n, r in enumerate(responses)}
    # A value PostgreSQL refuses is the sender's problem (422); the rest of the burst is stored.
    assert codes.pop(13) == 422
    assert set(codes.values()) == {202}
    jobs = await _jobs_by_event(db)
    assert len(jobs) == 39
    assert "evt_13" not in jobs
