"""SQL about the job queue itself (procrastinate's tables), for readiness, metrics and workers."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate.connector import BaseAsyncConnector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Runnable = a worker could take it now: what procrastinate_fetch_job_v2 (its schema.sql) accepts.
# It is `todo`, due, and no job of the same lock is `doing` or `todo` ahead of it (higher
# priority, or the same priority and queued first). A job waiting behind a retrying job of its
# object is NOT runnable: that is one object's (one tenant's) trouble, not a missing worker.
#
# Its wait counts from its (re)deferral or its scheduled time if later. procrastinate keeps no
# creation time on the job row, so the time comes from its events table (indexed by job). A job
# that waited behind another of its lock counts from its own deferral: finding when the job ahead
# ended would scan every finished job of the lock (there is no index on lock alone), and a live
# worker takes such a job within one poll anyway.
_RUNNABLE = """
    SELECT j.id,
           greatest(
               j.scheduled_at,
               (SELECT max(e.at) FROM procrastinate_events e
                 WHERE e.job_id = j.id
                   AND e.type IN ('deferred', 'deferred_for_retry', 'retried'))
           ) AS ready_at
      FROM procrastinate_jobs j
     WHERE j.status = 'todo'
       AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_jobs o
            WHERE j.lock IS NOT NULL
              AND o.lock = j.lock
              AND (o.status = 'doing'
                   OR (o.status = 'todo'
                       AND (o.priority > j.priority
                            OR (o.priority = j.priority AND o.id < j.id)))))
"""

_QUEUE_SQL = text(
    """
    SELECT count(*) AS waiting,
           coalesce(extract(epoch FROM now() - min(ready_at)), 0) AS oldest_wait_s
      FROM ("""  # noqa: S608 - composed of constants only
    + _RUNNABLE
    + """) AS runnable
    """
)

_WORKERS_SQL = text(
    """
    SELECT count(*) FILTER (WHERE last_heartbeat >= now() - make_interval(secs => :stalled_s))
               AS live,
           coalesce(extract(epoch FROM now() - max(last_heartbeat)), -1) AS newest_heartbeat_age_s,
           (SELECT extract(epoch FROM now() - last_heartbeat) FROM procrastinate_workers
             WHERE id = :own) AS own_heartbeat_age_s
      FROM procrastinate_workers
    """
)

# A worker that stopped (its row deleted when it unregistered, or pruned) leaves its jobs `doing`
# with worker_id NULL: procrastinate's stalled-job query treats those as stalled at once too.
_ORPHANED = """
    SELECT id FROM procrastinate_jobs
     WHERE status = 'doing' AND (worker_id = %(worker_id)s OR worker_id IS NULL)
     ORDER BY id
"""


@dataclass(frozen=True)
class WorkerHeartbeats:
    live: int  # workers whose last heartbeat is recent
    newest_heartbeat_age_s: float | None  # None: no worker registered at all
    own_heartbeat_age_s: float | None  # None: this process's worker is not registered


async def queue_backlog(connection: AsyncConnection) -> tuple[int, float]:
    """(runnable jobs waiting for a worker, seconds the longest-waiting of them has waited)."""
    row = (await connection.execute(_QUEUE_SQL)).one()
    return int(row.waiting), max(0.0, float(row.oldest_wait_s))


async def worker_heartbeats(
    connection: AsyncConnection, *, stalled_after_s: float, own_worker_id: int | None
) -> WorkerHeartbeats:
    row = (
        await connection.execute(_WORKERS_SQL, {"stalled_s": stalled_after_s, "own": own_worker_id})
    ).one()
    newest = float(row.newest_heartbeat_age_s)
    own = row.own_heartbeat_age_s
    return WorkerHeartbeats(
        live=int(row.live),
        newest_heartbeat_age_s=None if newest < 0 else newest,
        own_heartbeat_age_s=None if own is None else float(own),
    )


async def orphaned_job_ids(connector: BaseAsyncConnector, worker_id: int | None) -> list[int]:
    """Jobs left `doing` by a worker that has ended (`worker_id`) or by unregistered workers."""
    rows = await connector.execute_query_all_async(_ORPHANED, worker_id=worker_id)
    return [int(row["id"]) for row in rows]
