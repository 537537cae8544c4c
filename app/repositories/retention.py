"""SQL for retention: which rows of each table may go, counted or deleted a batch at a time.

What may go is decided in app/sync/retention.py; each target here is the SQL form of that rule.
Every statement takes a ``:cutoff`` (rows finished before it may go). Deletion takes its rows
oldest first (by id), ``FOR UPDATE SKIP LOCKED`` so it never waits on a row a worker holds, and
the WHERE clause is checked again on the locked row, so a row reopened meanwhile is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A failed sync-log entry counts as retried once a newer entry exists for the same object: a
# retry (or any later event of the object) writes one. CRM -> QBO entries name their object by
# CRM id, QBO -> CRM ones by QBO id; an entry with neither is never counted as retried.
_RETRIED = """
    EXISTS (
        SELECT 1 FROM sync_log later
        WHERE later.connection_id = {s}.connection_id
          AND later.direction = {s}.direction
          AND later.kind = {s}.kind
          AND later.id > {s}.id
          AND CASE {s}.direction
                WHEN 'crm_to_qbo' THEN later.crm_id = {s}.crm_id
                ELSE later.qbo_id = {s}.qbo_id
              END
    )
"""


def _unretried_failure_of(column: str, row: str) -> str:
    """SQL: a failed, not retried sync-log entry points at the row (the row must stay)."""
    retried = _RETRIED.format(s="s")
    return (
        f"EXISTS (SELECT 1 FROM sync_log s WHERE s.{column} = {row}.id "  # noqa: S608 - constants
        f"AND s.state = 'failed' AND NOT {retried})"
    )


def _inbound(table: str, log_column: str) -> str:
    """Finished inbound records (CRM events, QBO changes); a failed one only once retried."""
    return f"""
        FROM {table} t
        WHERE t.received_at < :cutoff
          AND coalesce(t.processed_at, t.received_at) < :cutoff
          AND t.state IN ('done', 'skipped', 'failed')
          AND (t.state <> 'failed'
               OR EXISTS (SELECT 1 FROM sync_log s WHERE s.{log_column} = t.id))
          AND NOT {_unretried_failure_of(log_column, "t")}
    """  # noqa: S608 - composed of constants only


@dataclass(frozen=True, slots=True)
class Target:
    """One table's purge: ``source`` is a FROM ... WHERE clause over alias ``t``."""

    table: str
    age: str  # SQL: when the row finished (reported as oldest/newest)
    source: str
    key: str = "id"


CRM_EVENTS = Target("crm_events", "coalesce(t.processed_at, t.received_at)", _inbound(
    "crm_events", "crm_event_id"
))  # fmt: skip
QBO_CHANGES = Target("qbo_changes", "coalesce(t.processed_at, t.received_at)", _inbound(
    "qbo_changes", "qbo_change_id"
))  # fmt: skip
SYNC_LOG = Target(
    "sync_log",
    "t.created_at",
    f"""
        FROM sync_log t
        WHERE t.created_at < :cutoff
          AND (t.state IN ('synced', 'skipped')
               OR (t.state = 'failed' AND {_RETRIED.format(s="t")}))
    """,
)
DELIVERED_CALLBACKS = Target(
    "crm_callbacks",
    "coalesce(t.delivered_at, t.created_at)",
    """
        FROM crm_callbacks t
        WHERE t.state = 'delivered' AND t.created_at < :cutoff
          AND coalesce(t.delivered_at, t.created_at) < :cutoff
    """,
)
OAUTH_STATES = Target(
    "oauth_states", "t.expires_at", "FROM oauth_states t WHERE t.expires_at < :cutoff"
)
QBO_REQUEST_SLOTS = Target(
    "qbo_request_slots",
    "coalesce(t.finished_at, t.lease_until)",
    "FROM qbo_request_slots t WHERE coalesce(t.finished_at, t.lease_until) < :cutoff",
)
# Finished jobs, found through the partial index of their final events (migration 0010). A
# `failed` job is never here: procrastinate retries a job in place (failed -> todo), so a job
# still `failed` is one nobody retried.
JOBS = Target(
    "procrastinate_jobs",
    "f.at",
    """
        FROM procrastinate_events f
        JOIN procrastinate_jobs t ON t.id = f.job_id
        WHERE f.type IN ('succeeded', 'cancelled', 'aborted') AND f.at < :cutoff
          AND t.status IN ('succeeded', 'cancelled', 'aborted')
          AND NOT EXISTS (
              SELECT 1 FROM procrastinate_events l WHERE l.job_id = t.id AND l.at >= :cutoff
          )
    """,
)
JOB_EVENTS_TABLE = "procrastinate_events"


@dataclass(frozen=True, slots=True)
class Affected:
    table: str
    rows: int
    oldest: datetime | None
    newest: datetime | None


async def _affected(session: AsyncSession, table: str, sql: str, cutoff: datetime) -> Affected:
    count, oldest, newest = (await session.execute(text(sql), {"cutoff": cutoff})).one()
    return Affected(table, int(count), oldest, newest)


async def count(session: AsyncSession, target: Target, cutoff: datetime) -> Affected:
    """What a purge with this cutoff would delete now."""
    sql = f"SELECT count(DISTINCT t.{target.key}), min({target.age}), max({target.age}) "
    return await _affected(session, target.table, sql + target.source, cutoff)


async def count_job_events(session: AsyncSession, cutoff: datetime) -> Affected:
    """The events that go with the jobs a purge with this cutoff would delete."""
    sql = f"""
        SELECT count(*), min(e.at), max(e.at) FROM procrastinate_events e
        WHERE e.job_id IN (SELECT t.id {JOBS.source})
    """  # noqa: S608 - composed of constants only
    return await _affected(session, JOB_EVENTS_TABLE, sql, cutoff)


async def delete_batch(
    session: AsyncSession, target: Target, cutoff: datetime, limit: int
) -> Affected:
    """Delete up to ``limit`` of the oldest rows that may go; returns what went."""
    sql = f"""
        WITH victims AS (
            SELECT t.{target.key} AS key, {target.age} AS age {target.source}
            ORDER BY t.{target.key} LIMIT :limit
            FOR UPDATE OF t SKIP LOCKED
        ),
        gone AS (
            DELETE FROM {target.table} d USING victims v WHERE d.{target.key} = v.key
            RETURNING v.age
        )
        SELECT count(*), min(age), max(age) FROM gone
    """  # noqa: S608 - composed of constants only
    result = await session.execute(text(sql), {"cutoff": cutoff, "limit": limit})
    rows, oldest, newest = result.one()
    return Affected(target.table, int(rows), oldest, newest)


async def delete_jobs_batch(
    session: AsyncSession, cutoff: datetime, limit: int
) -> tuple[Affected, Affected]:
    """Delete up to ``limit`` finished jobs with their events; returns both."""
    found = await session.execute(
        text(
            f"""
            SELECT t.id, f.at {JOBS.source}
            ORDER BY t.id LIMIT :limit
            FOR UPDATE OF t SKIP LOCKED
            """
        ),
        {"cutoff": cutoff, "limit": limit},
    )
    victims = {job_id: at for job_id, at in found.all()}
    if not victims:
        return Affected(JOBS.table, 0, None, None), Affected(JOB_EVENTS_TABLE, 0, None, None)
    ids = list(victims)
    events = await session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM procrastinate_events WHERE job_id = ANY(:ids) RETURNING at
            )
            SELECT count(*), min(at), max(at) FROM gone
            """
        ),
        {"ids": ids},
    )
    event_rows, event_oldest, event_newest = events.one()
    await session.execute(text("DELETE FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": ids})
    ages = list(victims.values())
    return (
        Affected(JOBS.table, len(ids), min(ages), max(ages)),
        Affected(JOB_EVENTS_TABLE, int(event_rows), event_oldest, event_newest),
    )
