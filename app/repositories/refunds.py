"""SQL the refund flow needs: the CRM payment a refund names, and what was refunded of it so far."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmEvent, EntityLink


async def newest_payment(
    session: AsyncSession, location_id: str, payment_id: str
) -> dict[str, Any] | None:
    """The `data` of the newest stored `payment.succeeded` event of this CRM payment.

    Looked up by the payment's id inside the payload: a payment of an invoice is stored under
    its invoice (its lock), so the object columns do not name it.
    """
    data = CrmEvent.payload["data"]
    result = await session.execute(
        select(CrmEvent.payload)
        .where(
            CrmEvent.location_id == location_id,
            CrmEvent.type == "payment.succeeded",
            data["id"].astext == payment_id,
        )
        .order_by(CrmEvent.id.desc())
        .limit(1)
    )
    payload = result.scalar_one_or_none()
    found = payload.get("data") if isinstance(payload, dict) else None
    return found if isinstance(found, dict) else None


async def refunded_so_far(
    session: AsyncSession,
    connection_id: UUID,
    location_id: str,
    payment_id: str,
    link_kinds: Sequence[str],
) -> Decimal:
    """The sum of this payment's refunds already in QuickBooks (each refund id counted once)."""
    linked = select(EntityLink.crm_id).where(
        EntityLink.connection_id == connection_id,
        EntityLink.kind.in_(list(link_kinds)),
        EntityLink.qbo_id.is_not(None),
    )
    data = CrmEvent.payload["data"]
    result = await session.execute(
        select(data["id"].astext, data["amount"].astext)
        .where(
            CrmEvent.location_id == location_id,
            CrmEvent.type == "payment.refunded",
            data["payment_id"].astext == payment_id,
            data["id"].astext.in_(linked),
        )
        .order_by(CrmEvent.id)
    )
    # The oldest event of a refund id is the one that was synced: a later event of a refund
    # already in QuickBooks is skipped by the flow, whatever amount it names.
    amounts: dict[str, Decimal] = {}
    for refund_id, amount in result.all():
        amounts.setdefault(refund_id, Decimal(amount))
    return sum(amounts.values(), Decimal(0))
