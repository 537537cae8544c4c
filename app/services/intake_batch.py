"""Group commit for the CRM intake: events arriving together are stored by one statement.

At low load every event is written on its own at once. When events arrive faster than single
statements complete, the ones that queue up behind the statements in flight are written together
by the next one: fewer round trips and commits per event, with each event still stored exactly
once together with its job.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import PoolTimeout

from app.db.direct import DirectConnection, DirectPool, run_once_retrying_stale
from app.logging import get_logger
from app.repositories import crm_intake
from app.repositories.crm_intake import JobRow, NewCrmEvent, StoreOutcome

log = get_logger(__name__)

# Errors that say nothing about the events themselves: every event of the batch gets them.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OSError)


@dataclass(slots=True)
class _Pending:
    event: NewCrmEvent
    job: JobRow
    done: asyncio.Future[StoreOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class IntakeBatcher:
    def __init__(self, pool: DirectPool, *, max_batch: int = 256, max_statements: int = 4) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._max_statements = max_statements
        self._waiting: deque[_Pending] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, event: NewCrmEvent, job: JobRow) -> StoreOutcome:
        pending = _Pending(event, job)
        self._waiting.append(pending)
        if self._running < self._max_statements:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # shield: a client that disconnects must not cancel the statement others wait on.
        return await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = [
                    self._waiting.popleft() for _ in range(min(len(self._waiting), self._max_batch))
                ]
                await self._write(batch)
        finally:
            self._running -= 1

    async def _write(self, batch: list[_Pending]) -> None:
        leaders: dict[tuple[str, str], _Pending] = {}
        followers: list[_Pending] = []
        for pending in batch:
            if pending.event.key in leaders:
                followers.append(pending)  # the same event twice in one batch: one row
            else:
                leaders[pending.event.key] = pending
        unique = list(leaders.values())
        try:
            outcomes = await self._statement(unique)
        except _UNAVAILABLE as exc:
            for pending in batch:
                _fail(pending, exc)
            return
        except Exception as exc:
            if len(unique) == 1:
                for pending in batch:
                    _fail(pending, exc)
                return
            # Something in one event broke the statement; write them one by one to find it.
            log.warning("crm.intake.batch_split", size=len(unique), error=type(exc).__name__)
            for pending in batch:
                await self._write([pending])
            return
        for pending, outcome in zip(unique, outcomes, strict=True):
            _resolve(pending, outcome)
        for pending in followers:
            leader = outcome_of(leaders[pending.event.key])
            _resolve(pending, _as_follower(leader, leaders[pending.event.key].event.body_hash))

    async def _statement(self, items: list[_Pending]) -> list[StoreOutcome]:
        pairs = [(pending.event, pending.job) for pending in items]

        async def run(conn: DirectConnection) -> list[StoreOutcome]:
            return await crm_intake.store_and_queue(conn, pairs)

        return await run_once_retrying_stale(self._pool, run)

    async def close(self) -> None:
        """Wait for statements in flight, so no accepted event is cut off at shutdown."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def outcome_of(pending: _Pending) -> StoreOutcome:
    return pending.done.result()


def _as_follower(leader: StoreOutcome, leader_hash: str) -> StoreOutcome:
    # A second copy sees the first as an earlier delivery: the stored hash is the leader's.
    stored_hash = leader_hash if leader.row_id is not None else leader.stored_hash
    return StoreOutcome(leader.location_known, None, stored_hash)


def _resolve(pending: _Pending, outcome: StoreOutcome) -> None:
    if not pending.done.done():
        pending.done.set_result(outcome)


def _fail(pending: _Pending, exc: BaseException) -> None:
    if not pending.done.done():
        pending.done.set_exception(exc)
