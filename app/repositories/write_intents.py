"""SQL for write intents: QBO creates sent whose answer is not recorded yet."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import WriteIntent


async def get(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_key: str
) -> WriteIntent | None:
    result = await session.execute(
        select(WriteIntent)
        .where(
            WriteIntent.connection_id == connection_id,
            WriteIntent.kind == kind,
            WriteIntent.crm_key == crm_key,
        )
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def record(
    session: AsyncSession,
    *,
    connection_id: uuid.UUID,
    kind: str,
    crm_key: str,
    request_id: str,
    lookup: dict[str, Any],
    settle_s: float,
) -> None:
    """Create or replace the intent; meant for a short transaction of its own."""
    # The job's transaction may hold this row (it deletes it with the link): wait boundedly.
    await session.execute(text("SET LOCAL lock_timeout = '10s'"))
    settles_at = func.clock_timestamp() + timedelta(seconds=settle_s)
    values: dict[str, Any] = {
        "request_id": request_id,
        "lookup": lookup,
        "settles_at": settles_at,
        "qbo_id": None,
    }
    await session.execute(
        insert(WriteIntent)
        .values(connection_id=connection_id, kind=kind, crm_key=crm_key, **values)
        .on_conflict_do_update(
            index_elements=[WriteIntent.connection_id, WriteIntent.kind, WriteIntent.crm_key],
            set_=values,
        )
    )


async def settle_now(
    session: AsyncSession,
    connection_id: uuid.UUID,
    kind: str,
    crm_key: str,
    qbo_id: str | None = None,
) -> None:
    """QBO answered (with the object's Id, or a 5xx): its write is over, a retry may look at
    once."""
    await session.execute(text("SET LOCAL lock_timeout = '10s'"))
    await session.execute(
        update(WriteIntent)
        .where(
            WriteIntent.connection_id == connection_id,
            WriteIntent.kind == kind,
            WriteIntent.crm_key == crm_key,
        )
        .values(settles_at=func.clock_timestamp(), qbo_id=qbo_id)
    )


async def clear(session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_key: str) -> None:
    await session.execute(
        delete(WriteIntent).where(
            WriteIntent.connection_id == connection_id,
            WriteIntent.kind == kind,
            WriteIntent.crm_key == crm_key,
        )
    )


async def seconds_to_settle(session: AsyncSession, intent: WriteIntent) -> float:
    """Seconds until the intent's earlier create is surely over (0 when it is)."""
    now: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    return max(0.0, (intent.settles_at - now).total_seconds())
