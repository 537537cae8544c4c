"""SQL for links seen from the QBO side: found by QBO id, created for records a QBO user made.

`entity_links.upsert` is keyed on the CRM id; a customer created in QBO has none yet, so its link
is keyed on (connection, kind, qbo_id) with `crm_id` NULL and origin `qbo`. Only the keys this
sync owns in `state` (e.g. `crm_hash`, the hash of what the CRM was last sent) are merged in, so
the CRM -> QBO flows' own state keys survive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EntityLink
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin


async def by_qbo_ids(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, qbo_ids: Sequence[str]
) -> dict[str, EntityLink]:
    if not qbo_ids:
        return {}
    result = await session.execute(
        select(EntityLink)
        .where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.qbo_id.in_(list(qbo_ids)),
        )
        .execution_options(populate_existing=True)
    )
    return {link.qbo_id: link for link in result.scalars() if link.qbo_id is not None}


async def record_seen(
    session: AsyncSession,
    *,
    connection_id: uuid.UUID,
    kind: str,
    qbo_id: str,
    sync_token: str | None,
    state: LinkState,
) -> None:
    """Remember the SyncToken last seen and merge `state` into the link, creating it if absent.

    The object was just read, so no webhook of it is taken for our echo any more.
    """
    statement = insert(EntityLink).values(
        connection_id=connection_id,
        kind=kind,
        crm_id=None,
        qbo_id=qbo_id,
        origin=LinkOrigin.QBO,
        sync_token=sync_token,
        state=state.stored(),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[EntityLink.connection_id, EntityLink.kind, EntityLink.qbo_id],
            set_={
                "sync_token": statement.excluded.sync_token,
                "state": EntityLink.state.op("||")(statement.excluded.state),
                "echo_updated_at": None,
                "updated_at": func.now(),
            },
        )
    )


async def move_to_survivor(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, from_qbo_id: str, to_qbo_id: str
) -> str:
    """After a QBO merge: the merged-away record's link now points at the survivor.

    When the survivor is linked already, the merged-away link is dropped (one link per QBO id);
    the CRM merges its two contacts on the `merged_from` it is sent. Returns what happened.
    """
    links = await by_qbo_ids(session, connection_id, kind, [from_qbo_id, to_qbo_id])
    moved = links.get(from_qbo_id)
    if moved is None:
        return "no link"
    if to_qbo_id in links:
        await session.execute(delete(EntityLink).where(EntityLink.id == moved.id))
        return f"dropped the link of CRM {moved.crm_id}: the survivor is linked already"
    await session.execute(
        update(EntityLink)
        .where(EntityLink.id == moved.id)
        .values(qbo_id=to_qbo_id, sync_token=None, echo_updated_at=None, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return f"moved the link of CRM {moved.crm_id}"


async def expected_echoes(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, qbo_ids: Sequence[str]
) -> dict[str, EntityLink]:
    """The links among `qbo_ids` whose write's webhook is still expected."""
    if not qbo_ids:
        return {}
    result = await session.execute(
        select(EntityLink)
        .where(
            EntityLink.connection_id == connection_id,
            EntityLink.kind == kind,
            EntityLink.qbo_id.in_(list(qbo_ids)),
            EntityLink.echo_updated_at.is_not(None),
        )
        .execution_options(populate_existing=True)
    )
    return {link.qbo_id: link for link in result.scalars() if link.qbo_id is not None}


async def echo_received(session: AsyncSession, link_ids: Sequence[int]) -> None:
    """The echo of these links' last write has come: a later webhook of them is read."""
    if link_ids:
        await session.execute(
            update(EntityLink)
            .where(EntityLink.id.in_(list(link_ids)))
            .values(echo_updated_at=None)
            .execution_options(synchronize_session=False)
        )
