"""SQL for CRM id <-> QBO id links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EntityLink
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin


async def by_crm_id(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_id: str
) -> EntityLink | None:
    result = await session.execute(
        select(EntityLink)
        .where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.crm_id == crm_id,
        )
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def by_crm_ids(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_ids: Sequence[str]
) -> dict[str, EntityLink]:
    if not crm_ids:
        return {}
    result = await session.execute(
        select(EntityLink).where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.crm_id.in_(list(crm_ids)),
        )
    )
    return {link.crm_id: link for link in result.scalars() if link.crm_id is not None}


async def by_qbo_id(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, qbo_id: str
) -> EntityLink | None:
    result = await session.execute(
        select(EntityLink).where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.qbo_id == qbo_id,
        )
    )
    return result.scalar_one_or_none()


async def claim_unowned(
    session: AsyncSession, *, connection_id: uuid.UUID, kind: str, qbo_id: str, crm_id: str
) -> bool:
    """Give a QBO-keyed link (imported, or made by a QBO user) its CRM id; False if none waits."""
    result = await session.execute(
        update(EntityLink)
        .where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.qbo_id == qbo_id,
            EntityLink.crm_id.is_(None),
        )
        .values(crm_id=crm_id)
        .returning(EntityLink.id)
    )
    return result.first() is not None


async def upsert(
    session: AsyncSession,
    *,
    connection_id: uuid.UUID,
    kind: str,
    crm_id: str,
    qbo_id: str | None,
    origin: LinkOrigin,
    sync_token: str | None,
    content_hash: str | None = None,
    state: LinkState | None = None,
    echo_updated_at: datetime | None = None,
) -> EntityLink:
    """Create or update the link of a CRM object; the QBO id of an existing link may change.

    `echo_updated_at`: the LastUpdatedTime QBO answered this write with, when the write's
    webhook may be recognised as our echo (None: any webhook of the object is read).
    """
    values: dict[str, Any] = {
        "qbo_id": qbo_id,
        "sync_token": sync_token,
        "content_hash": content_hash,
        "echo_updated_at": echo_updated_at,
    }
    if state is not None:
        values["state"] = state.stored()
    statement = (
        insert(EntityLink)
        .values(connection_id=connection_id, kind=kind, crm_id=crm_id, origin=origin, **values)
        .on_conflict_do_update(
            index_elements=[EntityLink.connection_id, EntityLink.kind, EntityLink.crm_id],
            set_=values,
        )
        .returning(EntityLink)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def record_own_write(
    session: AsyncSession,
    *,
    connection_id: uuid.UUID,
    kind: str,
    crm_id: str,
    qbo_id: str,
    origin: LinkOrigin,
    sync_token: str | None,
    content_hash: str | None,
    echo_updated_at: datetime | None = None,
) -> str | None:
    """Link a QBO object this service just wrote to its CRM object.

    Meant for a short transaction of its own, opened while the job's transaction is still open:
    a row lock that transaction held would otherwise be waited on for ever, so the wait is
    bounded and a conflict fails the job (which is retried) instead. Returns the CRM id of
    another CRM object already linked to this QBO object (nothing is written then), else None.
    """
    await session.execute(text("SET LOCAL lock_timeout = '10s'"))
    # An imported customer (or one a QBO user made) already has a link without a CRM id.
    await claim_unowned(
        session, connection_id=connection_id, kind=kind, qbo_id=qbo_id, crm_id=crm_id
    )
    holder = await by_qbo_id(session, connection_id, kind, qbo_id)
    if holder is not None and holder.crm_id not in (None, crm_id):
        return holder.crm_id
    await upsert(
        session,
        connection_id=connection_id,
        kind=kind,
        crm_id=crm_id,
        qbo_id=qbo_id,
        origin=origin,
        sync_token=sync_token,
        content_hash=content_hash,
        echo_updated_at=echo_updated_at,
    )
    return None
