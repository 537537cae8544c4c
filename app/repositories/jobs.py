"""SQL about the job queue itself (procrastinate's tables), for readiness and metrics."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
