"""SQL for connections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, SyncLogEntry
from app.models.states import ConnectionStatus, SyncState


async def get_by_location(session: AsyncSession, location_id: str) -> Connection | None:
    result = await session.execute(select(Connection).where(Connection.location_id == location_id))
    return result.scalar_one_or_none()


async def register_location(
    session: AsyncSession, location_id: str, *, import_invoices: bool, review_automation: bool
) -> Connection:
    """Create the location's connection row if absent; an existing one is returned untouched."""
    await session.execute(
        insert(Connection)
        .values(
            location_id=location_id,
            import_invoices=import_invoices,
            review_automation=review_automation,
        )
        .on_conflict_do_nothing(index_elements=[Connection.location_id])
    )
    connection = await get_by_location(session, location_id)
    assert connection is not None
    return connection


async def get_by_realm(session: AsyncSession, realm_id: str) -> Connection | None:
    result = await session.execute(
        select(Connection)
        .where(Connection.realm_id == realm_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_by_location_for_update(session: AsyncSession, location_id: str) -> Connection | None:
    result = await session.execute(
        select(Connection)
        .where(Connection.location_id == location_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def realms_refreshed_before(session: AsyncSession, before: datetime) -> list[str]:
    result = await session.execute(
        select(Connection.realm_id).where(
            Connection.status == ConnectionStatus.ACTIVE,
            Connection.realm_id.is_not(None),
            (Connection.token_refreshed_at < before) | Connection.token_refreshed_at.is_(None),
        )
    )
    return [realm for (realm,) in result.all() if realm is not None]


@dataclass(frozen=True, slots=True)
class ConnectionOverview:
    connection: Connection
    failed: int
    last_sync: datetime | None


async def overview(session: AsyncSession) -> list[ConnectionOverview]:
    """Every connection with its failed sync-log count and its newest synced entry's time."""
    failed = func.count().filter(SyncLogEntry.state == SyncState.FAILED)
    last = func.max(SyncLogEntry.created_at).filter(SyncLogEntry.state == SyncState.SYNCED)
    totals = (
        select(SyncLogEntry.connection_id, failed.label("failed"), last.label("last_sync"))
        .group_by(SyncLogEntry.connection_id)
        .subquery()
    )
    result = await session.execute(
        select(Connection, totals.c.failed, totals.c.last_sync)
        .outerjoin(totals, totals.c.connection_id == Connection.id)
        .order_by(Connection.location_id)
    )
    return [
        ConnectionOverview(connection, int(failed or 0), last_sync)
        for connection, failed, last_sync in result.all()
    ]


async def record_income_account(
    session: AsyncSession, connection_id: UUID, account_id: str
) -> None:
    """Record the Income account chosen for new items, unless one was recorded meanwhile."""
    await session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.income_account_id.is_(None))
        .values(income_account_id=account_id)
    )
