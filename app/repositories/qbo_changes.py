"""SQL for inbound QBO entity changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.direct import DirectConnection
from app.models import QboChange
from app.models.states import InboundState


@dataclass(frozen=True, slots=True)
class NewQboChange:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime | None
    deleted_id: str | None
    dedupe_key: str
    source: str


async def get(session: AsyncSession, row_id: int) -> QboChange | None:
    return await session.get(QboChange, row_id)


async def mark(
    session: AsyncSession, row_id: int, state: InboundState, reason: str | None = None
) -> None:
    finished = state in {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}
    await session.execute(
        update(QboChange)
        .where(QboChange.id == row_id)
        .values(
            state=state,
            state_reason=reason,
            attempts=QboChange.attempts + 1,
            processed_at=func.now() if finished else None,
        )
    )


async def pending_for_realm(
    session: AsyncSession, realm_id: str, *, entities: Sequence[str] | None = None
) -> list[tuple[int, str, str]]:
    """(row id, entity, entity id) of the realm's changes still waiting, oldest first; only
    those of `entities` when given."""
    statement = select(QboChange.id, QboChange.entity, QboChange.entity_id).where(
        QboChange.realm_id == realm_id, QboChange.state == InboundState.PENDING
    )
    if entities is not None:
        statement = statement.where(QboChange.entity.in_(list(entities)))
    result = await session.execute(statement.order_by(QboChange.id))
    return [(row_id, entity, entity_id) for row_id, entity, entity_id in result.all()]


# One statement is one transaction: the changes and their jobs commit together or not at all.
# A job is queued per (realm, entity) that got at least one new row, not one per change: a
# delivery of 5,000 changes queues one job per entity it names (app/sync/qbo_batches.py).
_STORE_AND_QUEUE = """
WITH incoming AS (
    SELECT d->>'realm_id' AS realm_id, d->>'entity' AS entity, d->>'entity_id' AS entity_id,
           d->>'operation' AS operation, (d->>'occurred_at')::timestamptz AS occurred_at,
           d->>'deleted_id' AS deleted_id, d->>'dedupe_key' AS dedupe_key, d->>'source' AS source,
           n
    FROM jsonb_array_elements(%(changes)s::jsonb) WITH ORDINALITY AS e(d, n)
), stored AS (
    INSERT INTO qbo_changes (realm_id, entity, entity_id, operation, occurred_at, deleted_id,
                             dedupe_key, source, state, attempts)
    SELECT realm_id, entity, entity_id, operation, occurred_at, deleted_id, dedupe_key, source,
           %(state)s, 0
    FROM incoming ORDER BY n
    ON CONFLICT (realm_id, dedupe_key) DO NOTHING
    RETURNING realm_id, entity
), groups AS (
    SELECT realm_id, entity, count(*) AS stored FROM stored GROUP BY realm_id, entity
), jobs AS (
    SELECT j->>'realm_id' AS realm_id, j->>'entity' AS entity, j->>'queue' AS queue,
           j->>'task' AS task, (j->>'priority')::int AS priority, j->>'lock' AS lock,
           j->'args' AS args, n
    FROM jsonb_array_elements(%(jobs)s::jsonb) WITH ORDINALITY AS e(j, n)
), queued AS (
    SELECT procrastinate_defer_jobs_v1(array_agg(ROW(
        j.queue, j.task, j.priority, j.lock, NULL, j.args, NULL
    )::procrastinate_job_to_defer_v1 ORDER BY j.n)) AS job_ids
    FROM jobs j JOIN groups g USING (realm_id, entity)
)
SELECT (SELECT coalesce(sum(stored), 0) FROM groups),
       (SELECT coalesce(cardinality(job_ids), 0) FROM queued)
"""


@dataclass(frozen=True, slots=True)
class GroupJob:
    """The procrastinate job that processes the pending changes of one realm's entity."""

    realm_id: str
    entity: str
    queue: str
    task: str
    priority: int
    lock: str | None
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int  # changes new to this service (the others were delivered before)
    queued: int  # jobs queued: one per realm and entity with a new change


async def store_and_queue(
    conn: DirectConnection, changes: Sequence[NewQboChange], jobs: Sequence[GroupJob]
) -> StoreResult:
    """Store the changes not seen before and queue the job of each (realm, entity) that got one.

    ``jobs`` holds one job per (realm, entity) of ``changes``; those with no new row are dropped.
    """
    if not changes:
        return StoreResult(0, 0)
    # One JSON text parameter each: adapting typed arrays of 5,000 rows costs more than the insert.
    cursor = await conn.execute(
        _STORE_AND_QUEUE,
        {
            "changes": json.dumps([_change_fields(change) for change in changes]),
            "jobs": json.dumps([asdict(job) for job in jobs]),
            "state": InboundState.PENDING.value,
        },
    )
    row = await cursor.fetchone()
    assert row is not None  # the statement always returns its one summary row
    return StoreResult(stored=int(row[0]), queued=int(row[1]))


def _change_fields(change: NewQboChange) -> dict[str, str | None]:
    # Spelled out: dataclasses.asdict deep-copies, a third of the intake time of a large delivery.
    return {
        "realm_id": change.realm_id,
        "entity": change.entity,
        "entity_id": change.entity_id,
        "operation": change.operation,
        "occurred_at": change.occurred_at.isoformat() if change.occurred_at else None,
        "deleted_id": change.deleted_id,
        "dedupe_key": change.dedupe_key,
        "source": change.source,
    }
