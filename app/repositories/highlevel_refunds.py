"""SQL the HighLevel poller needs for refunds: what a transaction's stored refunds add up to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmEvent


async def stored_refunds(session: AsyncSession, location_id: str, id_prefix: str) -> Decimal:
    """The sum of the stored `payment.refunded` events whose refund id starts with the prefix
    (one HighLevel transaction's refunds: HighLevel gives only their running total)."""
    data = CrmEvent.payload["data"]
    result = await session.execute(
        select(data["id"].astext, data["amount"].astext).where(
            CrmEvent.location_id == location_id,
            CrmEvent.type == "payment.refunded",
            data["id"].astext.startswith(id_prefix, autoescape=True),
        )
    )
    amounts = {refund_id: Decimal(amount) for refund_id, amount in result.all()}
    return sum(amounts.values(), Decimal(0))
