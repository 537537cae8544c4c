"""SQL for sync-log entries."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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


def _superseded() -> ColumnElement[bool]:
    """SQL: a newer entry of the same object exists (a retry, or any later event of it).

    The object is (direction, kind, CRM id), so ix_sync_log_object finds the newer entries; an
    entry without a CRM id is never superseded (it stays until a person looks at it)."""
    later = aliased(SyncLogEntry)
    return (
        select(later.id)
        .where(
            later.connection_id == SyncLogEntry.connection_id,
            later.kind == SyncLogEntry.kind,
            later.crm_id == SyncLogEntry.crm_id,
            later.direction == SyncLogEntry.direction,
            later.id > SyncLogEntry.id,
        )
        .exists()
    )


def _unresolved(connection_id: uuid.UUID, *, retryable_only: bool) -> Select[SyncLogEntry]:
    query = select(SyncLogEntry).where(
        SyncLogEntry.connection_id == connection_id,
        SyncLogEntry.state == SyncState.FAILED,
        ~_superseded(),
    )
    if retryable_only:  # only an entry from a CRM event can be re-run
        query = query.where(SyncLogEntry.crm_event_id.is_not(None))
    return query


async def unresolved_failures(
    session: AsyncSession,
    connection_id: uuid.UUID,
    *,
    retryable_only: bool = False,
    oldest_first: bool = False,
    limit: int | None = None,
) -> list[SyncLogEntry]:
    """Failed entries that are still the newest word on their object (newest first)."""
    order = SyncLogEntry.id.asc() if oldest_first else SyncLogEntry.id.desc()
    query = _unresolved(connection_id, retryable_only=retryable_only).order_by(order)
    result = await session.execute(query.limit(limit))
    return list(result.scalars())


async def unresolved_failure_count(session: AsyncSession, connection_id: uuid.UUID) -> int:
    query = _unresolved(connection_id, retryable_only=False).subquery()
    return int((await session.execute(select(func.count()).select_from(query))).scalar_one())
