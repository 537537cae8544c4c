"""SQL for the operator surface: the job queue's backlog and an overview of every connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models import Connection, SyncLogEntry
from app.models.states import SyncState

# Waiting = ready to run now. A job became ready when it was (re)deferred, or at its scheduled time
# if later: jobs scheduled for later (retry backoff) are not late before that time. procrastinate
# keeps no creation time on the job row, so the times come from its events table (indexed by job).
_QUEUE_SQL = text(
    """
    SELECT count(*) AS waiting,
           coalesce(extract(epoch FROM now() - min(ready_at)), 0) AS oldest_wait_s
      FROM (
            SELECT greatest(
                       j.scheduled_at,
                       (SELECT max(e.at) FROM procrastinate_events e
                         WHERE e.job_id = j.id
                           AND e.type IN ('deferred', 'deferred_for_retry', 'retried'))
                   ) AS ready_at
              FROM procrastinate_jobs j
             WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
           ) AS waiting
    """
)


async def queue_backlog(connection: AsyncConnection) -> tuple[int, float]:
    """(jobs waiting to run, seconds the oldest of them has waited)."""
    row = (await connection.execute(_QUEUE_SQL)).one()
    return int(row.waiting), max(0.0, float(row.oldest_wait_s))


@dataclass(frozen=True, slots=True)
class ConnectionOverview:
    connection: Connection
    failed: int
    last_sync: datetime | None


async def overview(session: AsyncSession) -> list[ConnectionOverview]:
    """Every connection with its failed sync-log count and its newest synced entry's time."""
    failed = func.count().filter(SyncLogEntry.state == SyncState.FAILED)
    last = func.max(SyncLogEntry.created_at).filter(SyncLogEntry.state == SyncState.SYNCED)
    totals = (
        select(SyncLogEntry.connection_id, failed.label("failed"), last.label("last_sync"))
        .group_by(SyncLogEntry.connection_id)
        .subquery()
    )
    result = await session.execute(
        select(Connection, totals.c.failed, totals.c.last_sync)
        .outerjoin(totals, totals.c.connection_id == Connection.id)
        .order_by(Connection.location_id)
    )
    return [
        ConnectionOverview(connection, int(failed or 0), last_sync)
        for connection, failed, last_sync in result.all()
    ]


async def failed_entry_ids(session: AsyncSession, connection_id: uuid.UUID) -> list[int]:
    """Failed entries from a CRM event (the only ones a retry can re-run), oldest first."""
    result = await session.execute(
        select(SyncLogEntry.id)
        .where(
            SyncLogEntry.connection_id == connection_id,
            SyncLogEntry.state == SyncState.FAILED,
            SyncLogEntry.crm_event_id.is_not(None),
        )
        .order_by(SyncLogEntry.id)
    )
    return list(result.scalars())
