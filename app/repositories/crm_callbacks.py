"""SQL for callbacks owed to the CRM (the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmCallback
from app.models.states import CallbackState

MAX_ERROR_CHARS = 2000


async def enqueue(
    session: AsyncSession, location_id: str, type_: str, payload: dict[str, Any]
) -> uuid.UUID:
    callback = CrmCallback(location_id=location_id, type=type_, payload=payload)
    session.add(callback)
    await session.flush()
    return callback.id


def _due(now: datetime | None) -> ColumnElement[bool]:
    cutoff = now if now is not None else func.now()
    return (CrmCallback.state == CallbackState.PENDING) & (CrmCallback.next_attempt_at <= cutoff)


async def claim_due(
    session: AsyncSession, *, limit: int, now: datetime | None = None
) -> list[CrmCallback]:
    """Lock up to `limit` due callbacks, oldest first, until the transaction ends.

    SKIP LOCKED passes over rows another transaction holds, so concurrent workers split the due
    callbacks between them and never hold the same one. `now` defaults to the database clock.
    """
    statement = (
        select(CrmCallback)
        .where(_due(now))
        .order_by(CrmCallback.created_at, CrmCallback.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


async def claim_one(
    session: AsyncSession, callback_id: uuid.UUID, *, now: datetime | None = None
) -> CrmCallback | None:
    """Lock one callback if it is pending and either never tried or due; None otherwise.

    None also when another transaction holds it (it is being sent right now).
    """
    never_tried = (CrmCallback.state == CallbackState.PENDING) & (CrmCallback.attempts == 0)
    statement = (
        select(CrmCallback)
        .where(CrmCallback.id == callback_id, never_tried | _due(now))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def get(session: AsyncSession, callback_id: uuid.UUID) -> CrmCallback | None:
    return await session.get(CrmCallback, callback_id, populate_existing=True)


def _clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


async def _record_attempt(session: AsyncSession, callback_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(CrmCallback)
        .where(CrmCallback.id == callback_id)
        .values(attempts=CrmCallback.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )


async def mark_delivered(session: AsyncSession, callback_id: uuid.UUID, *, at: datetime) -> None:
    """Delivered after one more attempt; `last_error` keeps why any earlier attempt failed."""
    await _record_attempt(session, callback_id, state=CallbackState.DELIVERED, delivered_at=at)


async def schedule_retry(
    session: AsyncSession, callback_id: uuid.UUID, *, at: datetime, error: str
) -> None:
    """One more failed attempt; stays pending and becomes due again at `at`."""
    await _record_attempt(session, callback_id, next_attempt_at=at, last_error=_clip(error))


async def mark_failed(session: AsyncSession, callback_id: uuid.UUID, error: str) -> None:
    """One more failed attempt and no further ones."""
    await _record_attempt(session, callback_id, state=CallbackState.FAILED, last_error=_clip(error))


async def count_by_state(session: AsyncSession, location_id: str) -> dict[str, int]:
    """Callbacks of a location per state; every state is present, zero when none."""
    result = await session.execute(
        select(CrmCallback.state, func.count())
        .where(CrmCallback.location_id == location_id)
        .group_by(CrmCallback.state)
    )
    counts = {state.value: 0 for state in CallbackState}
    for state, count in result:
        counts[CallbackState(state).value] = count
    return counts
