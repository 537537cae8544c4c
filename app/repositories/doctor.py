"""SQL of the settings doctor: its stored result and the local facts its checks read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, CrmEvent, DoctorResult, QboChange
from app.models.states import ConnectionStatus

# CDC polls store their changes with this source; every other source is a webhook delivery.
CDC_SOURCE = "cdc"


async def save(
    session: AsyncSession,
    connection_id: uuid.UUID,
    *,
    checked_at: datetime,
    trigger: str,
    worst: str,
    checks: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
) -> None:
    """Replace the connection's stored result (only the last run is kept)."""
    values = {
        "connection_id": connection_id,
        "checked_at": checked_at,
        "trigger": trigger,
        "worst": worst,
        "checks": checks,
        "accounts": accounts,
    }
    statement = insert(DoctorResult).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[DoctorResult.connection_id],
        set_={key: statement.excluded[key] for key in values if key != "connection_id"},
    )
    await session.execute(statement)


async def latest(session: AsyncSession, connection_id: uuid.UUID) -> DoctorResult | None:
    return await session.get(DoctorResult, connection_id, populate_existing=True)


async def last_webhook_at(session: AsyncSession, realm_id: str) -> datetime | None:
    """When QuickBooks last delivered a webhook for this company (CDC finds are not counted)."""
    statement = sa.select(sa.func.max(QboChange.received_at)).where(
        QboChange.realm_id == realm_id, QboChange.source != CDC_SOURCE
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def recent_document_data(
    session: AsyncSession, location_id: str, limit: int
) -> list[dict[str, Any]]:
    """The `data` of the location's newest invoice and payment events, newest first."""
    statement = (
        sa.select(CrmEvent.payload["data"])
        .where(
            CrmEvent.location_id == location_id,
            sa.or_(CrmEvent.type.like("invoice.%"), CrmEvent.type.like("payment.%")),
        )
        .order_by(CrmEvent.received_at.desc(), CrmEvent.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(statement)).scalars().all()
    return [row for row in rows if isinstance(row, dict)]


async def locations_to_check(session: AsyncSession) -> list[str]:
    """Connected locations (a realm, active), for the daily run."""
    statement = (
        sa.select(Connection.location_id)
        .where(Connection.realm_id.is_not(None), Connection.status == ConnectionStatus.ACTIVE)
        .order_by(Connection.location_id)
    )
    return list((await session.execute(statement)).scalars().all())
