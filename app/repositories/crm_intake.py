"""SQL for storing CRM events and queueing their jobs in one statement (the intake hot path)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.direct import DirectConnection
from app.models.states import InboundState

# One statement is one transaction: the events and their jobs commit together or not at all.
# `queued` only sees rows `stored` inserted, so a duplicate never queues a second job; jobs are
# created in arrival order (n), which is the order jobs sharing a lock run in.
# The stored hash is read only for a row not stored now, one unique-index probe each: a join
# with crm_events is planned as a scan of the whole table while it is small (a few thousand
# rows), which cost up to 1 ms of CPU per event. The read sees the statement's snapshot: an
# earlier delivery's row, but not one committed by a concurrent delivery that ON CONFLICT
# waited for (the caller re-reads then).
_STORE_AND_QUEUE = """
WITH incoming AS (
    SELECT d->>'location_id' AS location_id, d->>'event_id' AS event_id, d->>'type' AS type,
           (d->>'occurred_at')::timestamptz AS occurred_at, d->>'body_hash' AS body_hash,
           d->'payload' AS payload, d->>'object_kind' AS object_kind,
           d->>'object_id' AS object_id, d->>'queue' AS queue, d->>'task' AS task,
           (d->>'priority')::int AS priority, d->>'lock' AS lock, d->'args' AS args,
           d->>'row_arg' AS row_arg, n
    FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(d, n)
), known AS (
    SELECT i.*, EXISTS (SELECT 1 FROM connections c WHERE c.location_id = i.location_id) AS yes
    FROM incoming i
), stored AS (
    INSERT INTO crm_events (location_id, event_id, type, occurred_at, body_hash, payload,
                            object_kind, object_id, state, attempts)
    SELECT location_id, event_id, type, occurred_at, body_hash, payload, object_kind,
           object_id, %(state)s, 0
    FROM known WHERE yes ORDER BY n
    ON CONFLICT (location_id, event_id) DO NOTHING
    RETURNING id, location_id, event_id
), queued AS (
    SELECT procrastinate_defer_jobs_v1(array_agg(ROW(
        k.queue, k.task, k.priority, k.lock, NULL,
        k.args || jsonb_build_object(k.row_arg, s.id), NULL
    )::procrastinate_job_to_defer_v1 ORDER BY k.n)) AS job_ids
    FROM stored s JOIN known k USING (location_id, event_id)
)
SELECT k.yes, s.id,
       CASE WHEN k.yes AND s.id IS NULL THEN (
           SELECT e.body_hash FROM crm_events e
           WHERE e.location_id = k.location_id AND e.event_id = k.event_id
       ) END,
       (SELECT cardinality(job_ids) FROM queued) AS queued
FROM known k
LEFT JOIN stored s USING (location_id, event_id)
ORDER BY k.n
"""

_STORED_HASH = "SELECT body_hash FROM crm_events WHERE location_id = %s AND event_id = %s"


@dataclass(frozen=True, slots=True)
class NewCrmEvent:
    location_id: str
    event_id: str
    type: str
    occurred_at: datetime
    body_hash: str
    payload_json: str  # the validated event as JSON text, stored as jsonb
    object_kind: str
    object_id: str

    @property
    def key(self) -> tuple[str, str]:
        return self.location_id, self.event_id


@dataclass(frozen=True, slots=True)
class JobRow:
    """The procrastinate job to queue for a new event; the event's row id is added as `row_arg`."""

    queue: str
    task: str
    priority: int
    lock: str | None
    args: dict[str, Any]
    row_arg: str


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    location_known: bool
    row_id: int | None  # set when this statement stored the event (and queued its job)
    stored_hash: str | None  # body hash of an earlier delivery, when one was visible


async def store_and_queue(
    conn: DirectConnection, items: Sequence[tuple[NewCrmEvent, JobRow]]
) -> list[StoreOutcome]:
    """Store each event unless its (location, event id) exists, queueing a job per new row.

    The keys in ``items`` must be distinct; the outcomes come back in the same order.
    """
    # One JSON text parameter: adapting a dozen typed arrays costs more CPU than the statement.
    events = "[" + ",".join(_item_json(event, job) for event, job in items) + "]"
    cursor = await conn.execute(
        _STORE_AND_QUEUE, {"events": events, "state": InboundState.PENDING.value}
    )
    # `queued` is selected so that the jobs CTE is evaluated; its count is not needed here.
    return [StoreOutcome(bool(row[0]), row[1], row[2]) for row in await cursor.fetchall()]


def _item_json(event: NewCrmEvent, job: JobRow) -> str:
    fields = {
        "location_id": event.location_id,
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "body_hash": event.body_hash,
        "object_kind": event.object_kind,
        "object_id": event.object_id,
        "queue": job.queue,
        "task": job.task,
        "priority": job.priority,
        "lock": job.lock,
        "args": job.args,
        "row_arg": job.row_arg,
    }
    # The payload is already JSON text: spliced in rather than parsed and dumped again.
    return json.dumps(fields)[:-1] + ',"payload":' + event.payload_json + "}"


async def stored_body_hash(conn: DirectConnection, location_id: str, event_id: str) -> str | None:
    cursor = await conn.execute(_STORED_HASH, (location_id, event_id))
    row = await cursor.fetchone()
    return None if row is None else str(row[0])
