"""SQL for callbacks owed to the CRM (the outbox)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmCallback


async def enqueue(
    session: AsyncSession, location_id: str, type_: str, payload: dict[str, Any]
) -> uuid.UUID:
    callback = CrmCallback(location_id=location_id, type=type_, payload=payload)
    session.add(callback)
    await session.flush()
    return callback.id
