"""SQL for the initial import (Q1, Q3): the connection row it works under, and its QBO-origin links.

Imported records have no CRM id yet, so their links are keyed by (connection, kind, qbo_id); the
CRM-keyed `entity_links.upsert` cannot hold them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, EntityLink
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin


@dataclass(frozen=True, slots=True)
class ImportedLink:
    qbo_id: str
    sync_token: str | None
    crm_hash: str


async def lock_connection(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    """The connection, locked until the transaction ends: one page is written at a time."""
    result = await session.execute(
        select(Connection)
        .where(Connection.id == connection_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def upsert_imported(
    session: AsyncSession, *, connection_id: uuid.UUID, kind: str, links: Sequence[ImportedLink]
) -> None:
    """Link every imported record by its QBO id, in one statement per page.

    A record already linked (a customer the CRM -> QBO sync created, or one a webhook linked
    first) keeps its origin, CRM id and SyncToken; only the hash of what the CRM was sent is
    merged into its state, so the CRM -> QBO flows' own state keys survive.
    """
    if not links:
        return
    rows: list[dict[str, Any]] = [
        {
            "connection_id": connection_id,
            "kind": kind,
            "crm_id": None,
            "qbo_id": link.qbo_id,
            "origin": LinkOrigin.QBO,
            "sync_token": link.sync_token,
            "state": LinkState(crm_hash=link.crm_hash).stored(),
        }
        for link in links
    ]
    # One statement executed with many parameter sets: SQLAlchemy sends it as multi-row
    # INSERTs ("insertmanyvalues"), much cheaper to build than a 1000-row VALUES literal.
    statement = insert(EntityLink)
    statement = statement.on_conflict_do_update(
        index_elements=[EntityLink.connection_id, EntityLink.kind, EntityLink.qbo_id],
        set_={
            "state": EntityLink.state.op("||")(statement.excluded.state),
            "updated_at": func.now(),
        },
    )
    await session.execute(statement, rows)
