"""SQL for the reconciliation report: the CRM documents of a period, their links and sync-log
outcomes, the runs and the re-syncs asked for (app/sync/reconcile)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import CrmEvent, EntityLink, ReconciliationRun, ResyncRequest, SyncLogEntry
from app.models.states import Direction

# Event types whose body is a full snapshot of the document (invoice.deleted carries none).
INVOICE_TYPES = (
    "invoice.sent",
    "invoice.updated",
    "invoice.partially_paid",
    "invoice.paid",
    "invoice.voided",
)
PAYMENT_TYPE = "payment.succeeded"
REFUND_TYPE = "payment.refunded"
DELETED_TYPE = "invoice.deleted"
SNAPSHOT_TYPES = (*INVOICE_TYPES, PAYMENT_TYPE, REFUND_TYPE)
# Bound parameters per statement stay far below PostgreSQL's 32767.
CHUNK = 5000


def _doc_id() -> ColumnElement[str]:
    doc_id: ColumnElement[str] = CrmEvent.payload["data"]["id"].astext
    return doc_id


# The newest snapshot of each document whose date (in that snapshot) is in the period. All
# invoice.* snapshots are one document; the date is the one the flows give QBO (TxnDate): the
# invoice's issue date, the calendar day of the payment's or refund's own timestamp (its first
# ten characters). Plain SQL: DISTINCT ON must repeat its expressions in ORDER BY verbatim.
_PERIOD_DOCUMENTS = text(
    """
    SELECT id FROM (
        SELECT DISTINCT ON (doc_group, doc_id) id, doc_day
        FROM (
            SELECT id, occurred_at,
                   CASE WHEN type = ANY(:invoice_types) THEN 'invoice' ELSE type END AS doc_group,
                   payload->'data'->>'id' AS doc_id,
                   CASE type
                       WHEN :payment THEN left(payload->'data'->>'paid_at', 10)
                       WHEN :refund THEN left(payload->'data'->>'refunded_at', 10)
                       ELSE payload->'data'->>'issue_date'
                   END AS doc_day
            FROM crm_events
            WHERE location_id = :location_id AND type = ANY(:snapshot_types)
        ) AS snapshots
        ORDER BY doc_group, doc_id, occurred_at DESC, id DESC
    ) AS newest
    WHERE doc_day BETWEEN :day_from AND :day_to
    ORDER BY doc_day, id
    """
)


async def period_documents(
    session: AsyncSession, location_id: str, period_from: date, period_to: date
) -> list[CrmEvent]:
    """The newest snapshot of every CRM document dated in the period, oldest date first."""
    ids = (
        (
            await session.execute(
                _PERIOD_DOCUMENTS,
                {
                    "invoice_types": list(INVOICE_TYPES),
                    "snapshot_types": list(SNAPSHOT_TYPES),
                    "payment": PAYMENT_TYPE,
                    "refund": REFUND_TYPE,
                    "location_id": location_id,
                    "day_from": period_from.isoformat(),
                    "day_to": period_to.isoformat(),
                },
            )
        )
        .scalars()
        .all()
    )
    events: list[CrmEvent] = []
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        result = await session.execute(select(CrmEvent).where(CrmEvent.id.in_(chunk)))
        found = {event.id: event for event in result.scalars()}
        events.extend(found[row_id] for row_id in chunk)
    return events


async def deleted_invoices(session: AsyncSession, location_id: str) -> set[str]:
    """CRM ids of invoices the CRM deleted (`invoice.deleted`): voided in QBO (S3)."""
    result = await session.execute(
        select(_doc_id()).where(CrmEvent.location_id == location_id, CrmEvent.type == DELETED_TYPE)
    )
    return {crm_id for (crm_id,) in result.all() if crm_id}


async def links(
    session: AsyncSession, connection_id: uuid.UUID, kinds: Sequence[str], crm_ids: Sequence[str]
) -> dict[tuple[str, str], EntityLink]:
    """The links of these CRM ids under any of these kinds, by (kind, CRM id)."""
    found: dict[tuple[str, str], EntityLink] = {}
    for start in range(0, len(crm_ids), CHUNK):
        result = await session.execute(
            select(EntityLink).where(
                EntityLink.connection_id == connection_id,
                EntityLink.kind.in_(list(kinds)),
                EntityLink.crm_id.in_(list(crm_ids[start : start + CHUNK])),
            )
        )
        for link in result.scalars():
            if link.crm_id is not None:
                found[(link.kind, link.crm_id)] = link
    return found


async def newest_entries(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_ids: Sequence[str]
) -> dict[str, SyncLogEntry]:
    """The newest CRM -> QBO sync-log entry of each document (its latest outcome and reason)."""
    found: dict[str, SyncLogEntry] = {}
    for start in range(0, len(crm_ids), CHUNK):
        result = await session.execute(
            select(SyncLogEntry)
            .where(
                SyncLogEntry.connection_id == connection_id,
                SyncLogEntry.direction == Direction.CRM_TO_QBO,
                SyncLogEntry.kind == kind,
                SyncLogEntry.crm_id.in_(list(crm_ids[start : start + CHUNK])),
            )
            .ext(distinct_on(SyncLogEntry.crm_id))
            .order_by(SyncLogEntry.crm_id, SyncLogEntry.id.desc())
        )
        found.update({e.crm_id: e for e in result.scalars() if e.crm_id is not None})
    return found


async def newest_document_event(
    session: AsyncSession, location_id: str, kind: str, crm_id: str
) -> CrmEvent | None:
    """The newest event about one document (a deletion included): what a Re-sync re-applies."""
    types: tuple[str, ...] = {
        "invoice": (*INVOICE_TYPES, DELETED_TYPE),
        "sales_receipt": (PAYMENT_TYPE,),
        "refund": (REFUND_TYPE,),
    }.get(kind, ())
    result = await session.execute(
        select(CrmEvent)
        .where(
            CrmEvent.location_id == location_id,
            CrmEvent.type.in_(types),
            _doc_id() == crm_id,
        )
        .order_by(CrmEvent.occurred_at.desc(), CrmEvent.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def delete_link(session: AsyncSession, link_id: int) -> None:
    """Forget a link whose QBO object a user deleted: the next run creates it again."""
    link = await session.get(EntityLink, link_id)
    if link is not None:
        await session.delete(link)
        await session.flush()


async def forget_content(session: AsyncSession, link_id: int) -> None:
    """Clear what we last wrote, so the flow writes the CRM's version again (it skips an
    unchanged snapshot by this hash)."""
    await session.execute(
        update(EntityLink).where(EntityLink.id == link_id).values(content_hash=None)
    )


async def add_resync(session: AsyncSession, request: ResyncRequest) -> None:
    session.add(request)
    await session.flush()


async def resync_count(
    session: AsyncSession, connection_id: uuid.UUID, kind: str, crm_id: str
) -> int:
    result = await session.execute(
        select(func.count()).where(
            ResyncRequest.connection_id == connection_id,
            ResyncRequest.kind == kind,
            ResyncRequest.crm_id == crm_id,
        )
    )
    return int(result.scalar_one())


async def start_run(
    session: AsyncSession,
    connection_id: uuid.UUID,
    period_from: date,
    period_to: date,
    started_at: datetime,
) -> int:
    run = ReconciliationRun(
        connection_id=connection_id,
        period_from=period_from,
        period_to=period_to,
        state="running",
        started_at=started_at,
    )
    session.add(run)
    await session.flush()
    return run.id


async def progress(session: AsyncSession, run_id: int, done: int, total: int) -> None:
    await session.execute(
        update(ReconciliationRun)
        .where(ReconciliationRun.id == run_id)
        .values(done=done, total=total)
    )


async def finish_run(
    session: AsyncSession,
    run_id: int,
    *,
    state: str,
    finished_at: datetime,
    summary: dict[str, Any],
    lines: list[dict[str, Any]],
    error: str | None = None,
) -> None:
    await session.execute(
        update(ReconciliationRun)
        .where(ReconciliationRun.id == run_id)
        .values(state=state, finished_at=finished_at, summary=summary, lines=lines, error=error)
    )


async def get_run(
    session: AsyncSession, connection_id: uuid.UUID, run_id: int
) -> ReconciliationRun | None:
    result = await session.execute(
        select(ReconciliationRun).where(
            ReconciliationRun.connection_id == connection_id, ReconciliationRun.id == run_id
        )
    )
    return result.scalar_one_or_none()


async def latest_run(session: AsyncSession, connection_id: uuid.UUID) -> ReconciliationRun | None:
    result = await session.execute(
        select(ReconciliationRun)
        .where(ReconciliationRun.connection_id == connection_id)
        .order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()
