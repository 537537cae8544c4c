"""The job queue end to end: intake defers, a real procrastinate worker runs the jobs."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory
from app.errors import PermanentError, TransientError
from app.jobs.app import worker_options
from app.models import CrmEvent, SyncLogEntry
from app.models.states import InboundState, SyncState
from app.services.container import CrmEventHandler, Outcome, Runtime
from app.state import AppState
from app.sync import dispatch
from app.wiring import build_handlers
from tests.fixtures.events import PostEvent, invoice_event, payment_event

pytestmark = pytest.mark.usefixtures("location")


async def run_jobs(state: AppState, crm_event: CrmEventHandler | None = None) -> None:
    """Run workers until no job is due (wait=False stops a worker when nothing is fetchable,
    which includes jobs queued behind a lock another job still holds), with the service's
    handlers, or with `crm_event` as the CRM event handler."""
    handlers = build_handlers()
    runtime = Runtime(
        settings=state.settings,
        session_factory=state.session_factory,
        services=state.services,
        handlers=handlers if crm_event is None else replace(handlers, crm_event=crm_event),
    )
    options = {**worker_options(runtime), "wait": False, "concurrency": 4}
    for _ in range(50):
        await asyncio.wait_for(state.job_app.run_worker_async(**options), timeout=30)
        async with state.session_factory() as session:
            due = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
                        "AND (scheduled_at IS NULL OR scheduled_at <= now())"
                    )
                )
            ).scalar_one()
        if not due:
            return
    raise AssertionError("jobs still due after 50 worker runs")


async def events(factory: SessionFactory) -> list[CrmEvent]:
    async with factory() as session:
        return list((await session.execute(select(CrmEvent).order_by(CrmEvent.id))).scalars())


async def job_statuses(factory: SessionFactory) -> list[str]:
    async with factory() as session:
        rows = await session.execute(
            text(
                "SELECT status FROM procrastinate_jobs WHERE task_name = 'crm.event.process' "
                "ORDER BY id"
            )
        )
        return [str(status) for (status,) in rows]


async def test_events_of_one_object_run_in_order_once_each(
    post_event: PostEvent,
    state: AppState,
    db: SessionFactory,
) -> None:
    seen: list[str] = []

    async def record(_: AsyncSession, __: object, event: CrmEvent, **___: object) -> Outcome:
        seen.append(event.event_id)
        await asyncio.sleep(0.01)
        return Outcome(InboundState.DONE)

    await post_event(invoice_event("e1"))
    for n in range(2, 6):
        await post_event(invoice_event(f"e{n}", type_="invoice.updated"))
    await run_jobs(state, record)
    assert seen == ["e1", "e2", "e3", "e4", "e5"]
    assert {event.state for event in await events(db)} == {InboundState.DONE}
    assert await job_statuses(db) == ["succeeded"] * 5


async def test_permanent_error_fails_the_event_with_its_reason_and_no_retry(
    post_event: PostEvent,
    state: AppState,
    db: SessionFactory,
) -> None:
    async def reject(session: AsyncSession, _: object, event: CrmEvent, **__: object) -> Outcome:
        event.state_reason = "partial write that must not survive"
        await session.flush()
        raise PermanentError("QBO 6000: closed accounting period; reopen it and retry")

    await post_event(invoice_event())
    await run_jobs(state, reject)
    [event] = await events(db)
    assert event.state is InboundState.FAILED
    assert event.state_reason == "QBO 6000: closed accounting period; reopen it and retry"
    assert await job_statuses(db) == ["succeeded"]


async def test_transient_error_is_retried_later_and_says_why(
    post_event: PostEvent,
    state: AppState,
    db: SessionFactory,
) -> None:
    async def flaky(_: AsyncSession, __: object, ___: CrmEvent, **____: object) -> Outcome:
        raise TransientError("QBO answered 503", retry_after_s=60)

    await post_event(invoice_event())
    await run_jobs(state, flaky)
    [event] = await events(db)
    assert event.state is InboundState.PENDING
    assert event.state_reason == "retrying after: QBO answered 503"
    async with db() as session:
        status, attempts, wait = (
            await session.execute(
                text(
                    "SELECT status, attempts, extract(epoch FROM scheduled_at - now()) "
                    "FROM procrastinate_jobs WHERE task_name = 'crm.event.process'"
                )
            )
        ).one()
    assert (str(status), attempts) == ("todo", 1)
    assert 55 <= float(wait) <= 61, "the retry must wait at least what QBO asked for"


async def test_replayed_job_of_a_finished_event_changes_nothing(
    post_event: PostEvent,
    state: AppState,
    db: SessionFactory,
) -> None:
    calls = 0

    async def once(_: AsyncSession, __: object, ___: CrmEvent, **____: object) -> Outcome:
        nonlocal calls
        calls += 1
        return Outcome(InboundState.DONE)

    await post_event(invoice_event())
    await run_jobs(state, once)
    [event] = await events(db)
    replayed = await dispatch.process_crm_event(
        db, state.services, once, event.id, final_attempt=False
    )
    assert replayed is InboundState.DONE
    assert calls == 1


async def activate(db: SessionFactory) -> None:
    """The registered location connected (no QuickBooks call happens before the checks)."""
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE connections SET status = 'active', realm_id = '9130000000000042' "
                "WHERE location_id = 'loc_1'"
            )
        )


async def stored_as(db: SessionFactory, update: str) -> None:
    """Rewrite the stored event as another version might have stored it."""
    async with db() as session, session.begin():
        await session.execute(text(update))


@pytest.mark.parametrize(
    ("update", "reason", "subject"),
    [
        # A type this version has no row for (stored by a newer one): failed, naming the type.
        (
            "UPDATE crm_events SET type = 'invoice.refunded', "
            """payload = jsonb_set(payload, '{type}', '"invoice.refunded"')""",
            "type: unknown event type",
            ("invoice", "inv_1"),
        ),
        # An invoice payment that fails today's checks is recorded under its sales receipt,
        # as it is when it syncs (its job still queues behind its invoice).
        (
            """UPDATE crm_events SET payload = jsonb_set(payload, '{data,payment_method}', '""')""",
            "data.payment_method",
            ("sales_receipt", "pay_1"),
        ),
    ],
)
async def test_stored_event_this_version_cannot_read_fails_at_once_under_its_subject(
    post_event: PostEvent,
    state: AppState,
    db: SessionFactory,
    update: str,
    reason: str,
    subject: tuple[str, str],
) -> None:
    await activate(db)
    event = (
        invoice_event()
        if subject[0] == "invoice"
        else payment_event(source="invoice", invoice_id="inv_1")
    )
    await post_event(event)
    await stored_as(db, update)
    await run_jobs(state)
    [row] = await events(db)
    assert row.state is InboundState.FAILED
    assert reason in (row.state_reason or "")
    async with db() as session:
        [entry] = (await session.execute(select(SyncLogEntry))).scalars()
    assert (entry.kind, entry.crm_id, entry.state) == (*subject, SyncState.FAILED)
    assert await job_statuses(db) == ["succeeded"], "failed on its first run: no retry"


async def test_sweeper_requeues_a_job_whose_worker_died(
    post_event: PostEvent, state: AppState, db: SessionFactory
) -> None:
    from types import SimpleNamespace

    from app.jobs.context import RUNTIME_KEY
    from app.jobs.tasks import sweep_stalled

    await post_event(invoice_event())
    async with db() as session, session.begin():
        # A worker that took the job and then stopped sending heartbeats (killed with SIGKILL).
        worker_id = (
            await session.execute(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (now() - interval '1 hour') RETURNING id"
                )
            )
        ).scalar_one()
        await session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w"),
            {"w": worker_id},
        )
    runtime = Runtime(
        settings=state.settings,
        session_factory=state.session_factory,
        services=state.services,
        handlers=build_handlers(),
    )
    context = SimpleNamespace(app=state.job_app, additional_context={RUNTIME_KEY: runtime})
    await sweep_stalled(context, timestamp=0)  # type: ignore[arg-type]
    assert await job_statuses(db) == ["todo"]
    await run_jobs(state)
    [event] = await events(db)
    assert event.attempts == 1, "the re-queued job ran"
