"""Retention against a real PostgreSQL: what goes, what stays, the dry run, the batches, the CLI."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import RetentionSettings
from app.db.session import SessionFactory
from app.models import (
    Connection,
    CrmCallback,
    CrmEvent,
    OAuthState,
    QboChange,
    QboRequestSlot,
    SyncLogEntry,
)
from app.models.states import (
    CallbackState,
    ConnectionStatus,
    Direction,
    InboundState,
    SyncState,
)
from app.state import AppState
from app.sync import retention
from tests.ops.test_cli import cli

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=100)  # past the 90 days of events, changes and jobs
RECENT = NOW - timedelta(days=10)
ANCIENT = NOW - timedelta(days=500)  # past the sync log's 400 days


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class Data:
    """Rows named by what should become of them."""

    def __init__(self, session: AsyncSession, connection: Connection) -> None:
        self.session = session
        self.connection = connection
        self.n = 0

    async def event(
        self,
        name: str,
        state: InboundState,
        received: datetime,
        processed: datetime | None = None,
        *,
        object_id: str | None = None,
    ) -> CrmEvent:
        self.n += 1
        row = CrmEvent(
            location_id=self.connection.location_id,
            event_id=name,
            type="invoice.sent",
            occurred_at=received,
            body_hash="0" * 64,
            payload={},
            object_kind="invoice",
            object_id=object_id or name,
            state=state,
            received_at=received,
            processed_at=processed
            if processed is not None
            else (received if state not in (InboundState.PENDING,) else None),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def change(self, name: str, state: InboundState, received: datetime) -> QboChange:
        row = QboChange(
            realm_id=self.connection.realm_id or "",
            entity="Customer",
            entity_id=name,
            operation="Update",
            dedupe_key=name,
            source="webhook",
            state=state,
            received_at=received,
            processed_at=None if state is InboundState.PENDING else received,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def entry(
        self,
        crm_id: str,
        state: SyncState,
        created: datetime,
        *,
        event: CrmEvent | None = None,
        change: QboChange | None = None,
        direction: Direction = Direction.CRM_TO_QBO,
    ) -> SyncLogEntry:
        row = SyncLogEntry(
            connection_id=self.connection.id,
            direction=direction,
            kind="invoice" if direction is Direction.CRM_TO_QBO else "customer",
            crm_id=crm_id if direction is Direction.CRM_TO_QBO else None,
            qbo_id=crm_id if direction is Direction.QBO_TO_CRM else None,
            state=state,
            crm_event_id=event.id if event else None,
            qbo_change_id=change.id if change else None,
            created_at=created,
            updated_at=created,
        )
        self.session.add(row)
        await self.session.flush()
        return row


async def make_job(session: AsyncSession, name: str, status: str, *events_at: datetime) -> int:
    """A procrastinate job that went through `status`, its events dated `events_at` in order."""
    job_id = int(
        (
            await session.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, lock) "
                    "VALUES ('default', 'crm.event.process', CAST(:args AS jsonb), :name) "
                    "RETURNING id"
                ),
                {"args": f'{{"name": "{name}"}}', "name": name},
            )
        ).scalar_one()
    )
    steps = {"succeeded": ["doing", "succeeded"], "failed": ["doing", "failed"], "doing": ["doing"]}
    for step in steps.get(status, []):
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status) "
                "WHERE id = :id"
            ),
            {"s": step, "id": job_id},
        )
    event_ids = (
        await session.execute(
            text("SELECT id FROM procrastinate_events WHERE job_id = :id ORDER BY id"),
            {"id": job_id},
        )
    ).scalars()
    for event_id, at in zip(event_ids, events_at, strict=True):
        await session.execute(
            text("UPDATE procrastinate_events SET at = :at WHERE id = :id"),
            {"at": at, "id": event_id},
        )
    return job_id


async def build(db: SessionFactory) -> dict[str, Any]:
    """One of everything: names starting with 'gone' must be purged, 'kept' must stay."""
    ids: dict[str, Any] = {}
    async with db() as session:
        connection = Connection(
            id=uuid.uuid4(),
            location_id="loc_ret",
            realm_id="9130000000000077",
            status=ConnectionStatus.ACTIVE,
        )
        session.add(connection)
        await session.flush()
        data = Data(session, connection)
        done = InboundState.DONE
        # CRM events.
        gone_done = await data.event("gone_done", done, OLD)
        gone_skipped = await data.event("gone_skipped", InboundState.SKIPPED, OLD)
        await data.event("kept_recent", done, RECENT)
        await data.event("kept_pending", InboundState.PENDING, OLD)
        await data.event("kept_processing", InboundState.PROCESSING, OLD)
        await data.event("kept_processed_lately", done, OLD, ago(5))
        unretried = await data.event("kept_failed_unretried", InboundState.FAILED, ANCIENT)
        retried = await data.event("gone_failed_retried", InboundState.FAILED, OLD)
        fixed = await data.event("gone_retry_of_it", done, OLD, object_id="gone_failed_retried")
        await data.event("kept_failed_without_entry", InboundState.FAILED, OLD)
        # Sync log: synced entries of purged events stay (400 days), unlinked.
        ids["unlinked_entry"] = (
            await data.entry("gone_done", SyncState.SYNCED, OLD, event=gone_done)
        ).id
        await data.entry("gone_skipped", SyncState.SKIPPED, OLD, event=gone_skipped)
        ids["kept_failed_entry"] = (
            await data.entry("kept_failed_unretried", SyncState.FAILED, ANCIENT, event=unretried)
        ).id
        await data.entry("gone_failed_retried", SyncState.FAILED, OLD, event=retried)
        await data.entry("gone_failed_retried", SyncState.SYNCED, OLD, event=fixed)
        await data.entry("ancient_synced", SyncState.SYNCED, ANCIENT)  # goes
        await data.entry("ancient_pending", SyncState.PENDING, ANCIENT)  # stays
        await data.entry("ancient_retried", SyncState.FAILED, ANCIENT)  # goes: retried below
        await data.entry("ancient_retried", SyncState.FAILED, ANCIENT + timedelta(days=1))
        await data.entry("ancient_retried", SyncState.FAILED, RECENT)  # the newest failure stays
        # QBO changes (and a QBO -> CRM failure that was never retried).
        await data.change("gone_change", done, OLD)
        await data.change("kept_change_pending", InboundState.PENDING, OLD)
        failed_change = await data.change("kept_change_failed", InboundState.FAILED, OLD)
        await data.entry(
            "58", SyncState.FAILED, OLD, change=failed_change, direction=Direction.QBO_TO_CRM
        )
        # Callbacks.
        for name, state, created in (
            ("gone", CallbackState.DELIVERED, OLD),
            ("kept_recent", CallbackState.DELIVERED, RECENT),
            ("kept_pending", CallbackState.PENDING, OLD),
            ("kept_failed", CallbackState.FAILED, OLD),
        ):
            session.add(
                CrmCallback(
                    location_id="loc_ret",
                    type="sync.result",
                    payload={"name": name},
                    state=state,
                    created_at=created,
                    delivered_at=created if state is CallbackState.DELIVERED else None,
                )
            )
        # Connect attempts and QBO request slots.
        for expires in (ago(30), ago(1), NOW + timedelta(minutes=5)):
            session.add(
                OAuthState(
                    location_id="loc_ret",
                    import_invoices=False,
                    review_automation=False,
                    return_url="https://crm.test/done",
                    expires_at=expires,
                )
            )
        for started in (ago(2), NOW):
            session.add(
                QboRequestSlot(
                    realm_id="9130000000000077",
                    started_at=started,
                    lease_until=started + timedelta(seconds=30),
                    finished_at=started + timedelta(seconds=1),
                )
            )
        # Jobs: a finished one's events are deferred, started, succeeded.
        ids["gone_job"] = await make_job(session, "gone_job", "succeeded", OLD, OLD, OLD)
        await make_job(session, "kept_recent_job", "succeeded", RECENT, RECENT, RECENT)
        await make_job(session, "kept_finished_lately", "succeeded", OLD, OLD, RECENT)
        await make_job(session, "kept_failed_job", "failed", OLD, OLD, OLD)
        await make_job(session, "kept_todo_job", "todo", OLD)
        await make_job(session, "kept_doing_job", "doing", OLD, OLD)
        await session.commit()
    return ids


EXPECTED = {
    "crm_events": 4,  # done, skipped, the retried failure and its retry
    "qbo_changes": 1,
    "sync_log": 3,  # the ancient synced entry and the two ancient failures retried later
    "crm_callbacks": 1,
    "oauth_states": 1,
    "qbo_request_slots": 1,
    "procrastinate_jobs": 1,
    "procrastinate_events": 3,
}


async def names_left(db: SessionFactory) -> dict[str, set[str]]:
    queries = {
        "crm_events": "SELECT event_id FROM crm_events",
        "qbo_changes": "SELECT entity_id FROM qbo_changes",
        "sync_log": "SELECT coalesce(crm_id, qbo_id) || ':' || state || ':' || created_at::date "
        "FROM sync_log",
        "crm_callbacks": "SELECT payload->>'name' FROM crm_callbacks",
        "procrastinate_jobs": "SELECT args->>'name' FROM procrastinate_jobs",
    }
    async with db() as session:
        return {
            table: set((await session.execute(text(sql))).scalars())
            for table, sql in queries.items()
        }


async def counts(db: SessionFactory) -> dict[str, int]:
    async with db() as session:
        return {
            table: int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608
            for table in EXPECTED
        }


async def test_old_finished_rows_go_and_everything_else_stays(db: SessionFactory) -> None:
    """Nothing grows forever: old finished rows of every table go; recent, unfinished and
    failed-and-not-retried rows stay."""
    ids = await build(db)
    before = await counts(db)
    reports = await retention.purge(db, RetentionSettings(), NOW)

    assert {r.table: r.rows for r in reports} == EXPECTED
    after = await counts(db)
    assert {t: before[t] - after[t] for t in EXPECTED} == EXPECTED
    left = await names_left(db)
    assert left["crm_events"] == {
        "kept_recent",
        "kept_pending",
        "kept_processing",
        "kept_processed_lately",
        "kept_failed_unretried",
        "kept_failed_without_entry",
    }
    assert left["qbo_changes"] == {"kept_change_pending", "kept_change_failed"}
    assert left["crm_callbacks"] == {"kept_recent", "kept_pending", "kept_failed"}
    assert left["procrastinate_jobs"] == {
        "kept_recent_job",
        "kept_finished_lately",
        "kept_failed_job",
        "kept_todo_job",
        "kept_doing_job",
    }
    sync_log = {entry.rsplit(":", 1)[0] for entry in left["sync_log"]}
    assert "ancient_synced:synced" not in sync_log
    assert {"kept_failed_unretried:failed", "ancient_pending:pending"} <= sync_log
    assert sum(e.startswith("ancient_retried:failed") for e in left["sync_log"]) == 1
    async with db() as session:
        unlinked, kept_link = (
            await session.execute(
                text("SELECT crm_event_id FROM sync_log WHERE id = ANY(:ids) ORDER BY id"),
                {"ids": [ids["unlinked_entry"], ids["kept_failed_entry"]]},
            )
        ).scalars()
    # The synced entry of a purged event stays for people to read; the unretried failure keeps
    # its event, so Retry still works.
    assert unlinked is None
    assert kept_link is not None
    # A second run finds nothing more.
    again = await retention.purge(db, RetentionSettings(), NOW)
    assert all(r.rows == 0 for r in again)


async def test_dry_run_deletes_nothing_and_reports_what_the_purge_deletes(
    db: SessionFactory,
) -> None:
    """Nothing grows forever: the dry run counts per table, oldest and newest, deleting none."""
    await build(db)
    before = await counts(db)
    preview = await retention.preview(db, RetentionSettings(), NOW)
    assert await counts(db) == before
    purged = await retention.purge(db, RetentionSettings(batch_size=1), NOW)
    assert [(r.table, r.rows) for r in preview] == [(r.table, r.rows) for r in purged]
    assert {r.table: r.rows for r in preview} == EXPECTED
    for seen, done in zip(preview, purged, strict=True):
        assert (seen.oldest, seen.newest) == (done.oldest, done.newest), seen.table
    events = next(r for r in preview if r.table == "crm_events")
    assert events.oldest is not None
    assert abs(events.oldest - OLD) < timedelta(seconds=1)


async def test_zero_days_keeps_a_table_for_ever(db: SessionFactory) -> None:
    """Nothing grows forever, unless an operator says so: 0 days keeps that table whole."""
    await build(db)
    settings = RetentionSettings(crm_events_days=0, sync_log_days=0, jobs_days=0)
    tables = {r.table for r in await retention.purge(db, settings, NOW)}
    assert not tables & {"crm_events", "sync_log", "procrastinate_jobs", "procrastinate_events"}
    assert "qbo_changes" in tables


def test_sync_log_must_outlive_the_events() -> None:
    """Nothing grows forever: a sync log shorter than the events would strand failed events."""
    with pytest.raises(ValueError, match="QBS_RETENTION_SYNC_LOG_DAYS"):
        RetentionSettings(sync_log_days=30, crm_events_days=90)
    RetentionSettings(sync_log_days=0, crm_events_days=90)
    RetentionSettings(sync_log_days=90, crm_events_days=90)


async def test_a_row_a_worker_holds_is_skipped_not_waited_for(
    db: SessionFactory, database_url: str
) -> None:
    """Nothing grows forever, without long locks: rows in use are left for the next run."""
    import psycopg

    from app.db.session import libpq_url

    await build(db)
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as holder:
        await holder.execute("SELECT 1 FROM crm_events WHERE event_id = 'gone_done' FOR UPDATE")
        started = time.monotonic()
        reports = await asyncio.wait_for(retention.purge(db, RetentionSettings(), NOW), 30)
        assert time.monotonic() - started < 10
        await holder.rollback()
    assert {r.table: r.rows for r in reports}["crm_events"] == EXPECTED["crm_events"] - 1
    assert "gone_done" in (await names_left(db))["crm_events"]


async def test_purge_command_dry_run_then_purge(
    database_url: str, tmp_path: Path, db: SessionFactory
) -> None:
    """Nothing grows forever: `qbo-sync purge --dry-run` shows what `qbo-sync purge` deletes."""
    await build(db)
    code, dry, err = await cli(database_url, tmp_path, "purge", "--dry-run")
    assert code == 0, err
    assert await counts(db) != dict.fromkeys(EXPECTED, 0)
    code, done, err = await cli(database_url, tmp_path, "purge")
    assert code == 0, err

    def rows(out: str) -> dict[str, str]:
        cells = [line.split() for line in out.splitlines()]
        return {row[0]: row[1] for row in cells if row and row[0] in EXPECTED}

    assert rows(dry) == rows(done)
    assert set(rows(dry)) == set(EXPECTED)
    assert rows(dry)["crm_events"] == "4"
    assert rows(dry)["procrastinate_events"] == "3"
    assert dry.splitlines()[0].split()[:2] == ["TABLE", "WOULD"]
    assert "Dry run: nothing deleted; 15 rows in all." in dry
    assert "15 rows in all." in done
    code, again, _ = await cli(database_url, tmp_path, "purge", "--dry-run")
    assert "Dry run: nothing deleted; 0 rows in all." in again
    assert "never" not in again  # an empty table shows "-" for oldest and newest


async def test_the_daily_task_purges_through_a_worker(state: AppState, db: SessionFactory) -> None:
    """Nothing grows forever without an operator: a daily periodic task, one run at a time."""
    from app.jobs.app import worker_options
    from app.services import job_names as names
    from app.services.container import Runtime
    from app.wiring import build_handlers

    registry = state.job_app.periodic_registry.periodic_tasks
    daily = registry[(names.PURGE_TASK, names.PURGE_TASK)]
    assert daily.cron.split()[2:] == ["*", "*", "*"]  # once a day
    assert daily.task.queueing_lock == names.PURGE_TASK
    assert daily.task.lock == names.PURGE_TASK

    await build(db)
    before = await counts(db)
    await daily.task.defer_async(timestamp=int(NOW.timestamp()))
    runtime = Runtime(
        settings=state.settings,
        session_factory=state.session_factory,
        services=state.services,
        handlers=build_handlers(),
    )
    options = {**worker_options(runtime), "wait": False, "concurrency": 1}
    await asyncio.wait_for(state.job_app.run_worker_async(**options), timeout=60)
    after = await counts(db)
    gone = {t: before[t] - after[t] for t in EXPECTED}
    assert gone["crm_events"] == EXPECTED["crm_events"]
    assert gone["sync_log"] == EXPECTED["sync_log"]
    # The worker's own periodic jobs come and go; of ours, only the old finished one went.
    jobs = (await names_left(db))["procrastinate_jobs"]
    assert "gone_job" not in jobs
    assert {"kept_recent_job", "kept_failed_job", "kept_todo_job"} <= jobs
