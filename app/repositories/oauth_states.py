"""SQL for connect attempts (OAuth `state`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
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
    code_verifier: str,
) -> OAuthState:
    state = OAuthState(
        location_id=location_id,
        import_invoices=import_invoices,
        review_automation=review_automation,
        return_url=return_url,
        expires_at=expires_at,
        code_verifier=code_verifier,
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


async def claim_completion(session: AsyncSession, attempt_id: uuid.UUID) -> str | None:
    """Mark the callback handled and hand out the PKCE code_verifier, which is cleared: it is
    read exactly once. None when the callback was handled already or the attempt has expired."""
    verifier = select(OAuthState.code_verifier).where(OAuthState.id == attempt_id).scalar_subquery()
    result = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.id == attempt_id,
            OAuthState.started_at.is_not(None),
            OAuthState.completed_at.is_(None),
            OAuthState.expires_at > func.now(),
        )
        .values(completed_at=func.now(), code_verifier=None)
        # The subquery reads the row as it was before this UPDATE (same snapshot).
        .returning(verifier)
    )
    row = result.first()
    if row is None:
        return None
    # An attempt stored before PKCE existed has no verifier: "" tells the caller to refuse it.
    return str(row[0] or "")


async def record_outcome(session: AsyncSession, attempt_id: uuid.UUID, outcome: str) -> None:
    await session.execute(
        update(OAuthState).where(OAuthState.id == attempt_id).values(outcome=outcome)
    )
