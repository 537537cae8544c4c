"""Intake: store each inbound CRM event or QBO change once, deferring its job in the same
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.direct import DirectPool
from app.db.session import raw_connection
from app.errors import AppError
from app.integrations.crm.event_table import lock_key
from app.integrations.crm.schemas import CrmEventModel
from app.integrations.quickbooks.webhooks import EntityChange
from app.repositories import crm_intake, qbo_changes
from app.repositories.crm_intake import NewCrmEvent
from app.repositories.qbo_changes import NewQboChange
from app.services.intake_batch import IntakeBatcher
from app.services.job_queue import crm_event_job, qbo_batch_job
from app.services.locations import UnknownLocationError


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


class EventConflictError(AppError):
    http_status = 409
    public_code = "event_conflict"

    def __init__(self, event_id: str) -> None:
        super().__init__(
            f"event {event_id!r} was already received with a different body; an event id "
            "must never be reused for other content"
        )


@dataclass(frozen=True, slots=True)
class IntakeResult:
    event_id: str
    status: IntakeStatus


async def accept_crm_event(
    batcher: IntakeBatcher, pool: DirectPool, job_app: App, event: CrmEventModel, body_hash: str
) -> IntakeResult:
    """Store the event once and queue its job in the same transaction (see intake_batch)."""
    # The object whose jobs run in order with this one's (the event table's lock key).
    object_kind, object_id = lock_key(event)
    new = NewCrmEvent(
        location_id=event.location_id,
        event_id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        body_hash=body_hash,
        payload_json=event.model_dump_json(),
        object_kind=object_kind,
        object_id=object_id,
    )
    job = crm_event_job(
        job_app, location_id=event.location_id, object_kind=object_kind, object_id=object_id
    )
    outcome = await batcher.store(new, job)
    if not outcome.location_known:
        raise UnknownLocationError(event.location_id)
    if outcome.row_id is not None:
        return IntakeResult(event.id, IntakeStatus.ACCEPTED)
    stored_hash = outcome.stored_hash
    if stored_hash is None:  # a concurrent delivery committed after the statement's snapshot
        async with pool.connection() as conn:
            stored_hash = await crm_intake.stored_body_hash(conn, event.location_id, event.id)
    if stored_hash != body_hash:
        raise EventConflictError(event.id)
    return IntakeResult(event.id, IntakeStatus.DUPLICATE)


@dataclass(frozen=True, slots=True)
class ChangesResult:
    accepted: int
    duplicates: int


async def accept_qbo_changes(
    session: AsyncSession, job_app: App, changes: Sequence[EntityChange]
) -> ChangesResult:
    """Store each change once and queue one job per (realm, entity) with a new change, in one
    statement inside the caller's transaction (app/sync/qbo_batches.py says why per entity)."""
    groups = sorted({(change.realm_id, change.entity) for change in changes})
    result = await qbo_changes.store_and_queue(
        await raw_connection(session),
        [
            NewQboChange(
                realm_id=change.realm_id,
                entity=change.entity,
                entity_id=change.entity_id,
                operation=change.operation,
                occurred_at=change.occurred_at,
                deleted_id=change.deleted_id,
                dedupe_key=change.dedupe_key,
                source=change.source_format,
            )
            for change in changes
        ],
        [qbo_batch_job(job_app, realm_id=realm, entity=entity) for realm, entity in groups],
    )
    return ChangesResult(accepted=result.stored, duplicates=len(changes) - result.stored)
