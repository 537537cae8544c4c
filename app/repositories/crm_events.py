"""SQL for inbound CRM events."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmEvent
from app.models.states import InboundState


async def get(session: AsyncSession, row_id: int) -> CrmEvent | None:
    return await session.get(CrmEvent, row_id)


async def mark(
    session: AsyncSession, row_id: int, state: InboundState, reason: str | None = None
) -> None:
    finished = state in {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}
    await session.execute(
        update(CrmEvent)
        .where(CrmEvent.id == row_id)
        .values(
            state=state,
            state_reason=reason,
            attempts=CrmEvent.attempts + 1,
            processed_at=func.now() if finished else None,
        )
    )


async def pending_for_location(
    session: AsyncSession, location_id: str
) -> list[tuple[int, str, str]]:
    """(row id, object kind, object id) of the location's events still waiting, oldest first."""
    result = await session.execute(
        select(CrmEvent.id, CrmEvent.object_kind, CrmEvent.object_id)
        .where(CrmEvent.location_id == location_id, CrmEvent.state == InboundState.PENDING)
        .order_by(CrmEvent.id)
    )
    return [(row_id, kind, object_id) for row_id, kind, object_id in result.all()]


async def count_by_state(session: AsyncSession, location_id: str) -> dict[str, int]:
    result = await session.execute(
        select(CrmEvent.state, func.count())
        .where(CrmEvent.location_id == location_id)
        .group_by(CrmEvent.state)
    )
    return {state.value: count for state, count in result.all()}


async def newest_for_object(
    session: AsyncSession, location_id: str, object_kind: str, object_id: str
) -> CrmEvent | None:
    result = await session.execute(
        select(CrmEvent)
        .where(
            CrmEvent.location_id == location_id,
            CrmEvent.object_kind == object_kind,
            CrmEvent.object_id == object_id,
        )
        .order_by(CrmEvent.occurred_at.desc(), CrmEvent.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def reopen(session: AsyncSession, row_id: int, reason: str) -> None:
    """Make a finished event eligible for processing again (an explicit retry)."""
    await session.execute(
        update(CrmEvent)
        .where(CrmEvent.id == row_id)
        .values(state=InboundState.PENDING, state_reason=reason, processed_at=None)
    )
