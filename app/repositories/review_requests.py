"""SQL for review-request decisions (Q2): one row per QBO customer, the unique key makes it once."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ReviewRequest


async def decision_for(
    session: AsyncSession, connection_id: uuid.UUID, qbo_customer_id: str
) -> str | None:
    result = await session.execute(
        select(ReviewRequest.decision).where(
            ReviewRequest.connection_id == connection_id,
            ReviewRequest.qbo_customer_id == qbo_customer_id,
        )
    )
    return result.scalar_one_or_none()


async def decide(
    session: AsyncSession,
    connection_id: uuid.UUID,
    qbo_customer_id: str,
    qbo_invoice_id: str | None,
    decision: str,
) -> bool:
    """Record the customer's decision; False when one exists already (then nothing changes)."""
    result = await session.execute(
        insert(ReviewRequest)
        .values(
            connection_id=connection_id,
            qbo_customer_id=qbo_customer_id,
            qbo_invoice_id=qbo_invoice_id,
            decision=decision,
        )
        .on_conflict_do_nothing(
            index_elements=[ReviewRequest.connection_id, ReviewRequest.qbo_customer_id]
        )
        .returning(ReviewRequest.id)
    )
    return result.first() is not None


async def move_customer(
    session: AsyncSession, connection_id: uuid.UUID, from_id: str, to_id: str
) -> None:
    """A merged-away customer's decision passes to the survivor when it has none of its own."""
    if await decision_for(session, connection_id, to_id) is not None:
        return
    await session.execute(
        update(ReviewRequest)
        .where(
            ReviewRequest.connection_id == connection_id,
            ReviewRequest.qbo_customer_id == from_id,
        )
        .values(qbo_customer_id=to_id)
        .execution_options(synchronize_session=False)
    )
