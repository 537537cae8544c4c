"""SQL for processing QBO changes in batches, and for the CDC backstop that feeds them.

The processing of one change claims the other pending changes of its realm and entity, so one QBO
query (`Id IN (...)`) serves them all. One batch per realm and entity runs at a time (an advisory
lock taken before any row lock, so nothing waits in a cycle). The batch job of a realm's entity
walks its pending changes in id order with `next_pending` (app/sync/qbo_batches.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, CrmEvent, QboChange
from app.models.states import ConnectionStatus, InboundState

# pg advisory lock namespace for "one CDC poll per connection at a time" (app/db/locking.py
# holds 7001..7004).
CDC_LOCK_NAMESPACE = 7010
BATCH_LOCK_NAMESPACE = 7011


async def lock_batch(session: AsyncSession, realm_id: str, entity: str) -> None:
    """Wait until no other batch of the realm's entity runs; held until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
        {"namespace": BATCH_LOCK_NAMESPACE, "key": f"{realm_id}:{entity}"},
    )


async def lock_change(session: AsyncSession, row_id: int) -> QboChange | None:
    """The change, locked until the transaction ends; waits while a sibling job processes it."""
    result = await session.execute(
        select(QboChange)
        .where(QboChange.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def claim_pending(
    session: AsyncSession, realm_id: str, entity: str, *, exclude_id: int, limit: int
) -> list[QboChange]:
    """Lock up to `limit` other pending changes of the realm's entity, oldest first."""
    result = await session.execute(
        select(QboChange)
        .where(
            QboChange.realm_id == realm_id,
            QboChange.entity == entity,
            QboChange.state == InboundState.PENDING,
            QboChange.id != exclude_id,
        )
        .order_by(QboChange.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def next_pending(
    session: AsyncSession, realm_id: str, entity: str, *, after_id: int
) -> int | None:
    """The oldest pending change of the realm's entity after `after_id` (a batch job's cursor)."""
    result = await session.execute(
        select(QboChange.id)
        .where(
            QboChange.realm_id == realm_id,
            QboChange.entity == entity,
            QboChange.state == InboundState.PENDING,
            QboChange.id > after_id,
        )
        .order_by(QboChange.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def crm_events_in_flight(session: AsyncSession, location_id: str, since: datetime) -> bool:
    """Whether a CRM event of the location received after `since` is still being processed."""
    result = await session.execute(
        select(CrmEvent.id)
        .where(
            CrmEvent.location_id == location_id,
            CrmEvent.state.in_([InboundState.PENDING, InboundState.PROCESSING]),
            CrmEvent.received_at >= since,
        )
        .limit(1)
    )
    return result.first() is not None


async def active_connection_ids(session: AsyncSession) -> list[uuid.UUID]:
    result = await session.execute(
        select(Connection.id).where(
            Connection.status == ConnectionStatus.ACTIVE, Connection.realm_id.is_not(None)
        )
    )
    return [connection_id for (connection_id,) in result.all()]


async def get_connection(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    result = await session.execute(
        select(Connection)
        .where(Connection.id == connection_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def try_lock_cdc(session: AsyncSession, connection_id: uuid.UUID) -> bool:
    """Take the connection's CDC lock for this transaction; False when another poll holds it."""
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:namespace, hashtext(:key))"),
        {"namespace": CDC_LOCK_NAMESPACE, "key": str(connection_id)},
    )
    return bool(result.scalar_one())


async def set_watermark(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> None:
    """Move the CDC watermark forward only (a slow poll never moves it back)."""
    await session.execute(
        update(Connection)
        .where(
            Connection.id == connection_id,
            (Connection.cdc_watermark.is_(None)) | (Connection.cdc_watermark < at),
        )
        .values(cdc_watermark=at)
        .execution_options(synchronize_session=False)
    )
