"""SQL for inbound QBO entity changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import QboChange
from app.models.states import InboundState


@dataclass(frozen=True, slots=True)
class NewQboChange:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime | None
    deleted_id: str | None
    dedupe_key: str
    source: str


async def insert_new(session: AsyncSession, changes: Sequence[NewQboChange]) -> list[QboChange]:
    """Insert the changes not seen before (by realm and dedupe key); returns only the new rows."""
    if not changes:
        return []
    statement = (
        insert(QboChange)
        .values(
            [
                {
                    "realm_id": change.realm_id,
                    "entity": change.entity,
                    "entity_id": change.entity_id,
                    "operation": change.operation,
                    "occurred_at": change.occurred_at,
                    "deleted_id": change.deleted_id,
                    "dedupe_key": change.dedupe_key,
                    "source": change.source,
                }
                for change in changes
            ]
        )
        .on_conflict_do_nothing(index_elements=[QboChange.realm_id, QboChange.dedupe_key])
        .returning(QboChange)
    )
    return list((await session.execute(statement)).scalars())


async def get(session: AsyncSession, row_id: int) -> QboChange | None:
    return await session.get(QboChange, row_id)


async def mark(
    session: AsyncSession, row_id: int, state: InboundState, reason: str | None = None
) -> None:
    finished = state in {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}
    await session.execute(
        update(QboChange)
        .where(QboChange.id == row_id)
        .values(
            state=state,
            state_reason=reason,
            attempts=QboChange.attempts + 1,
            processed_at=func.now() if finished else None,
        )
    )


async def pending_for_realm(
    session: AsyncSession, realm_id: str, *, entities: Sequence[str] | None = None
) -> list[tuple[int, str, str]]:
    """(row id, entity, entity id) of the realm's changes still waiting, oldest first; only
    those of `entities` when given."""
    statement = select(QboChange.id, QboChange.entity, QboChange.entity_id).where(
        QboChange.realm_id == realm_id, QboChange.state == InboundState.PENDING
    )
    if entities is not None:
        statement = statement.where(QboChange.entity.in_(list(entities)))
    result = await session.execute(statement.order_by(QboChange.id))
    return [(row_id, entity, entity_id) for row_id, entity, entity_id in result.all()]
