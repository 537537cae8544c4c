"""SQL for callbacks owed to the CRM (the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmCallback, HighLevelLocation
from app.models.states import CallbackState

MAX_ERROR_CHARS = 2000


class CallbackBody(Protocol):
    """A callback's `data` (the models of app/integrations/crm/callback_payloads.py)."""

    callback_type: ClassVar[str]

    def as_json(self) -> dict[str, Any]: ...


async def enqueue(session: AsyncSession, location_id: str, body: CallbackBody) -> uuid.UUID:
    """Owe the CRM this callback; stored as the JSON it will receive, sent after the commit."""
    callback = CrmCallback(location_id=location_id, type=body.callback_type, payload=body.as_json())
    session.add(callback)
    await session.flush()
    return callback.id


def _due(now: datetime) -> ColumnElement[bool]:
    return (CrmCallback.state == CallbackState.PENDING) & (CrmCallback.next_attempt_at <= now)


async def claim_due(
    session: AsyncSession,
    *,
    limit: int,
    now: datetime,
    until: datetime,
    token: uuid.UUID,
    highlevel_only: bool = False,
) -> list[CrmCallback]:
    """Lease up to `limit` due callbacks, oldest first, until `until`; the caller commits.

    The lease is `next_attempt_at = until` plus the claimant's `token`, so it outlives this
    transaction: the HTTP calls happen after the commit, no row lock is held meanwhile, another
    deliverer does not see the rows as due, and a claimant that dies leaves them due at `until`.
    SKIP LOCKED only keeps two claims running at the same instant from waiting on each other.
    `highlevel_only`: only callbacks of installed HighLevel locations (no CRM URL for the rest).
    """
    condition = _due(now)
    if highlevel_only:
        installed = select(HighLevelLocation.location_id).where(
            HighLevelLocation.uninstalled_at.is_(None)
        )
        condition = condition & CrmCallback.location_id.in_(installed)
    due = (
        select(CrmCallback.id)
        .where(condition)
        .order_by(CrmCallback.created_at, CrmCallback.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(CrmCallback)
        .where(CrmCallback.id.in_(due))
        .values(next_attempt_at=until, claim_token=token)
        .returning(CrmCallback)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    claimed = list((await session.scalars(statement)).all())
    # RETURNING has no order: callbacks of one location go out in creation order.
    return sorted(claimed, key=lambda callback: (callback.created_at, callback.id))


async def get(session: AsyncSession, callback_id: uuid.UUID) -> CrmCallback | None:
    return await session.get(CrmCallback, callback_id, populate_existing=True)


def _clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


async def _record_attempt(
    session: AsyncSession, callback_id: uuid.UUID, token: uuid.UUID, **values: Any
) -> bool:
    """One more attempt, recorded only by the lease's holder; False when the lease was lost."""
    result = await session.execute(
        update(CrmCallback)
        .where(CrmCallback.id == callback_id, CrmCallback.claim_token == token)
        .values(attempts=CrmCallback.attempts + 1, claim_token=None, **values)
        .returning(CrmCallback.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def mark_delivered(
    session: AsyncSession, callback_id: uuid.UUID, token: uuid.UUID, *, at: datetime
) -> bool:
    """Delivered after one more attempt; `last_error` keeps why any earlier attempt failed."""
    return await _record_attempt(
        session, callback_id, token, state=CallbackState.DELIVERED, delivered_at=at
    )


async def schedule_retry(
    session: AsyncSession, callback_id: uuid.UUID, token: uuid.UUID, *, at: datetime, error: str
) -> bool:
    """One more failed attempt; stays pending and becomes due again at `at`."""
    return await _record_attempt(
        session, callback_id, token, next_attempt_at=at, last_error=_clip(error)
    )


async def mark_failed(
    session: AsyncSession, callback_id: uuid.UUID, token: uuid.UUID, *, at: datetime, error: str
) -> bool:
    """One more failed attempt and no further ones (until an operator resends it)."""
    return await _record_attempt(
        session,
        callback_id,
        token,
        state=CallbackState.FAILED,
        failed_at=at,
        last_error=_clip(error),
    )


async def release(
    session: AsyncSession, callback_ids: Sequence[uuid.UUID], token: uuid.UUID, *, at: datetime
) -> None:
    """Give back claimed callbacks that were not sent: due again at `at`, no attempt counted."""
    if not callback_ids:
        return
    await session.execute(
        update(CrmCallback)
        .where(CrmCallback.id.in_(callback_ids), CrmCallback.claim_token == token)
        .values(next_attempt_at=at, claim_token=None)
        .execution_options(synchronize_session=False)
    )


async def expedite_retries(session: AsyncSession, *, now: datetime) -> int:
    """Make every callback waiting out a backoff due now (not those leased by a run)."""
    result = await session.execute(
        update(CrmCallback)
        .where(
            CrmCallback.state == CallbackState.PENDING,
            CrmCallback.attempts > 0,
            CrmCallback.next_attempt_at > now,
            CrmCallback.claim_token.is_(None),
        )
        .values(next_attempt_at=now)
        .returning(CrmCallback.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def search(
    session: AsyncSession,
    location_id: str,
    *,
    state: CallbackState | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[CrmCallback]:
    """A location's callbacks, newest first."""
    statement = select(CrmCallback).where(CrmCallback.location_id == location_id)
    if state is not None:
        statement = statement.where(CrmCallback.state == state)
    if since is not None:
        statement = statement.where(CrmCallback.created_at >= since)
    statement = statement.order_by(CrmCallback.created_at.desc(), CrmCallback.id.desc())
    return list((await session.scalars(statement.limit(limit))).all())


async def resend_failed(
    session: AsyncSession, location_id: str, *, since: datetime | None, now: datetime
) -> list[uuid.UUID]:
    """Make a location's failed callbacks (created at or after `since`) due now.

    `attempts` starts again at 0 because it drives the backoff: after an operator fixed the CRM,
    a callback that meets one more hiccup is retried in seconds, not in an hour. The give-up
    window restarts at `resent_at`. `last_error` stays until the next attempt, so the reason it
    failed remains readable meanwhile.
    """
    statement = (
        update(CrmCallback)
        .where(CrmCallback.location_id == location_id, CrmCallback.state == CallbackState.FAILED)
        .values(
            state=CallbackState.PENDING,
            attempts=0,
            next_attempt_at=now,
            resent_at=now,
            failed_at=None,
            claim_token=None,
        )
        .returning(CrmCallback.id)
        .execution_options(synchronize_session=False)
    )
    if since is not None:
        statement = statement.where(CrmCallback.created_at >= since)
    return list((await session.scalars(statement)).all())


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
