"""SQL for sync-log entries."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import SyncLogEntry
from app.models.states import Direction, SyncState


async def add(session: AsyncSession, entry: SyncLogEntry) -> SyncLogEntry:
    session.add(entry)
    await session.flush()
    return entry


async def get(
    session: AsyncSession, connection_id: uuid.UUID, entry_id: int
) -> SyncLogEntry | None:
    result = await session.execute(
        select(SyncLogEntry).where(
            SyncLogEntry.connection_id == connection_id, SyncLogEntry.id == entry_id
        )
    )
    return result.scalar_one_or_none()


async def search(
    session: AsyncSession,
    connection_id: uuid.UUID,
    *,
    state: SyncState | None = None,
    kind: str | None = None,
    direction: Direction | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[SyncLogEntry]:
    query = select(SyncLogEntry).where(SyncLogEntry.connection_id == connection_id)
    if state is not None:
        query = query.where(SyncLogEntry.state == state)
    if kind is not None:
        query = query.where(SyncLogEntry.kind == kind)
    if direction is not None:
        query = query.where(SyncLogEntry.direction == direction)
    if before_id is not None:
        query = query.where(SyncLogEntry.id < before_id)
    result = await session.execute(query.order_by(SyncLogEntry.id.desc()).limit(limit))
    return list(result.scalars())


async def counts(session: AsyncSession, connection_id: uuid.UUID) -> dict[str, dict[str, int]]:
    result = await session.execute(
        select(SyncLogEntry.direction, SyncLogEntry.state, func.count())
        .where(SyncLogEntry.connection_id == connection_id)
        .group_by(SyncLogEntry.direction, SyncLogEntry.state)
    )
    totals: dict[str, dict[str, int]] = {}
    for direction, state, count in result.all():
        totals.setdefault(direction.value, {})[state.value] = count
    return totals


async def failed_count(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_id: str
) -> int:
    result = await session.execute(
        select(func.count()).where(
            SyncLogEntry.connection_id == connection_id,
            SyncLogEntry.kind == kind,
            SyncLogEntry.crm_id == crm_id,
            SyncLogEntry.state == SyncState.FAILED,
        )
    )
    return int(result.scalar_one())


async def failed_entry_ids(session: AsyncSession, connection_id: uuid.UUID) -> list[int]:
    """Failed entries from a CRM event (the only ones a retry can re-run), oldest first."""
    result = await session.execute(
        select(SyncLogEntry.id)
        .where(
            SyncLogEntry.connection_id == connection_id,
            SyncLogEntry.state == SyncState.FAILED,
            SyncLogEntry.crm_event_id.is_not(None),
        )
        .order_by(SyncLogEntry.id)
    )
    return list(result.scalars())
