"""QBO -> CRM: one job per realm and entity works through its pending changes, a turn at a time.

Why (fairness): procrastinate runs the runnable job with the highest priority, then the lowest id.
With one job per change, a delivery of 5,000 changes put 5,000 jobs ahead of every job queued
after it, so another location's CRM event waited until all of them had been fetched, and the
worker slots they filled sat waiting on the realm's batch lock.

Design: intake (and the CDC poll) store a delivery's changes and queue, in the same statement,
one `qbo.changes.batch` job per (realm, entity) that got a new change
(app/repositories/qbo_changes.py store_and_queue). The job's procrastinate lock is the realm's
entity, so at most one job per realm and entity runs: a flood holds one worker slot per entity it
names, never all of them. A run is one turn: it processes pending changes in id order (each
through dispatch.process_qbo_change, which batches up to BATCH_LIMIT siblings into one QBO query)
until none is left or TURN_BUDGET_S has passed; if changes remain it queues its own continuation,
which gets a new, larger job id and so waits behind every job queued meanwhile. Realms and CRM
events thus take turns (round robin by arrival) however large one realm's backlog is.

A turn's cursor (`after_id`) moves past every change it started, so a change that stays pending
(its company paused) is not retried in a loop; a new delivery's job starts from the beginning and
the reconnect's resume job re-queues it. A transient failure raises: procrastinate retries the
turn with backoff (the realm's entity waits, other realms do not); on the final attempt the
failure is recorded as the change's outcome (`final_attempt`) and the stream carries on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.db.session import SessionFactory, session_scope
from app.logging import get_logger
from app.repositories import qbo_change_batches
from app.services.container import QboChangeHandler, Services
from app.sync import dispatch

log = get_logger(__name__)

# A turn stops starting changes after this long (a change already started is finished): short
# enough that another tenant's job waits about this long for a slot, long enough that a turn
# does real work (one batch of Customers is one QBO query and their CRM callbacks).
TURN_BUDGET_S = 2.0
# At most this many changes started per turn (entities without a flow are one row each).
TURN_MAX_CHANGES = 200


@dataclass(frozen=True, slots=True)
class Turn:
    started: int  # changes this turn handed to dispatch (each may batch siblings with it)
    last_id: int  # the cursor: the id of the last change started
    more: bool  # pending changes remain after the cursor


async def take_turn(
    factory: SessionFactory,
    services: Services,
    handler: QboChangeHandler,
    realm_id: str,
    entity: str,
    *,
    after_id: int,
    final_attempt: bool,
    budget_s: float = TURN_BUDGET_S,
) -> Turn:
    """Process the realm's pending changes of `entity` after `after_id`, oldest first."""
    deadline = time.monotonic() + budget_s
    cursor, started = after_id, 0
    while True:
        async with session_scope(factory) as session:
            row_id = await qbo_change_batches.next_pending(
                session, realm_id, entity, after_id=cursor
            )
        if row_id is None:
            return Turn(started, cursor, more=False)
        if started >= TURN_MAX_CHANGES or (started and time.monotonic() >= deadline):
            return Turn(started, cursor, more=True)
        await dispatch.process_qbo_change(
            factory, services, handler, row_id, final_attempt=final_attempt
        )
        cursor, started = row_id, started + 1
