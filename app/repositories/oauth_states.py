"""SQL for connect attempts (OAuth `state`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OAuthState


async def create(
    session: AsyncSession,
    *,
    location_id: str,
    import_invoices: bool,
    review_automation: bool,
    return_url: str,
    expires_at: datetime,
) -> OAuthState:
    state = OAuthState(
        location_id=location_id,
        import_invoices=import_invoices,
        review_automation=review_automation,
        return_url=return_url,
        expires_at=expires_at,
    )
    session.add(state)
    await session.flush()
    return state


async def get(session: AsyncSession, attempt_id: uuid.UUID) -> OAuthState | None:
    return await session.get(OAuthState, attempt_id)


async def claim_start(session: AsyncSession, attempt_id: uuid.UUID) -> bool:
    """Mark the connect link used; False when it was used already or has expired."""
    result = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.id == attempt_id,
            OAuthState.started_at.is_(None),
            OAuthState.expires_at > func.now(),
        )
        .values(started_at=func.now())
        .returning(OAuthState.id)
    )
    return result.first() is not None


async def claim_completion(session: AsyncSession, attempt_id: uuid.UUID) -> bool:
    """Mark the callback handled; False when it was handled already or has expired."""
    result = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.id == attempt_id,
            OAuthState.started_at.is_not(None),
            OAuthState.completed_at.is_(None),
            OAuthState.expires_at > func.now(),
        )
        .values(completed_at=func.now())
        .returning(OAuthState.id)
    )
    return result.first() is not None


async def record_outcome(session: AsyncSession, attempt_id: uuid.UUID, outcome: str) -> None:
    await session.execute(
        update(OAuthState).where(OAuthState.id == attempt_id).values(outcome=outcome)
    )
