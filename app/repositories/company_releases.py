"""SQL for released companies: move a connection's links out at release, back if it returns."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    CompanyRelease,
    Connection,
    DoctorResult,
    EntityLink,
    ReconciliationRun,
    ReviewRequest,
    WriteIntent,
)

# Tables whose rows hold QBO ids of the connection's company (checked by a test against every
# foreign key to connections.id, so a new such table cannot be forgotten here).
ARCHIVED_TABLES: tuple[Table, ...] = (EntityLink.__table__, ReviewRequest.__table__)  # type: ignore[assignment]
# Kept in place: the location's history, worded for people, valid whatever company comes next.
# Re-sync requests count into a document's write generation (its requestid): kept, so a
# generation never goes back and a company that returns cannot replay an old create's answer.
KEPT_TABLES = ("sync_log", "company_releases", "reconciliation_resyncs")
# Dropped at release: a write intent names an object (or a lookup) in the released company, and
# read by its Id in the next company it could adopt an unrelated object with the same Id.
# The doctor's last result and the reconciliation reports describe the released company.
DROPPED_TABLES = ("write_intents", "doctor_results", "reconciliation_runs")


async def _rows_as_json(session: AsyncSession, table: Table, connection_id: uuid.UUID) -> list[Any]:
    result = await session.execute(
        text(
            f"SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]'::jsonb) "  # noqa: S608 - table names are ours
            f"FROM {table.name} t WHERE t.connection_id = :id"
        ),
        {"id": connection_id},
    )
    rows: list[Any] = result.scalar_one()
    return rows


async def archive(session: AsyncSession, connection: Connection) -> CompanyRelease:
    """Record the release of the connection's company and move its links into the record."""
    assert connection.realm_id is not None
    links = await _rows_as_json(session, EntityLink.__table__, connection.id)  # type: ignore[arg-type]
    reviews = await _rows_as_json(session, ReviewRequest.__table__, connection.id)  # type: ignore[arg-type]
    release = CompanyRelease(
        connection_id=connection.id,
        location_id=connection.location_id,
        realm_id=connection.realm_id,
        company_name=connection.company_name,
        connected_at=connection.connected_at,
        links=links,
        review_requests=reviews,
        link_count=len(links),
    )
    session.add(release)
    await session.execute(delete(EntityLink).where(EntityLink.connection_id == connection.id))
    await session.execute(delete(ReviewRequest).where(ReviewRequest.connection_id == connection.id))
    await session.execute(delete(WriteIntent).where(WriteIntent.connection_id == connection.id))
    await session.execute(delete(DoctorResult).where(DoctorResult.connection_id == connection.id))
    await session.execute(
        delete(ReconciliationRun).where(ReconciliationRun.connection_id == connection.id)
    )
    await session.flush()
    return release


async def _reinsert(session: AsyncSession, table: Table, rows: list[Any]) -> None:
    if not rows:
        return
    # Only the columns the archived rows have: a column added since keeps its default.
    columns = [c.name for c in table.columns if c.name in rows[0]]
    names = ", ".join(f'"{name}"' for name in columns)
    await session.execute(
        text(
            f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608 - names are ours
            f"FROM jsonb_populate_recordset(NULL::{table.name}, CAST(:rows AS jsonb)) "
            "ON CONFLICT DO NOTHING"
        ),
        {"rows": json.dumps(rows)},
    )


async def sweep_strays(session: AsyncSession, connection_id: uuid.UUID) -> int:
    """Links written after the release by a job already running then: into that release."""
    result = await session.execute(
        select(CompanyRelease)
        .where(CompanyRelease.connection_id == connection_id)
        .order_by(CompanyRelease.id.desc())
        .limit(1)
        .with_for_update()
    )
    latest = result.scalar_one_or_none()
    if latest is None:
        return 0
    links = await _rows_as_json(session, EntityLink.__table__, connection_id)  # type: ignore[arg-type]
    reviews = await _rows_as_json(session, ReviewRequest.__table__, connection_id)  # type: ignore[arg-type]
    if not links and not reviews:
        return 0
    latest.links = [*latest.links, *links]
    latest.review_requests = [*latest.review_requests, *reviews]
    latest.link_count = len(latest.links)
    await session.execute(delete(EntityLink).where(EntityLink.connection_id == connection_id))
    await session.execute(delete(ReviewRequest).where(ReviewRequest.connection_id == connection_id))
    await session.flush()
    return len(links) + len(reviews)


async def restore(
    session: AsyncSession, connection_id: uuid.UUID, realm_id: str
) -> CompanyRelease | None:
    """Put back the links of the newest unrestored release of this company by this connection."""
    result = await session.execute(
        select(CompanyRelease)
        .where(
            CompanyRelease.connection_id == connection_id,
            CompanyRelease.realm_id == realm_id,
            CompanyRelease.restored_at.is_(None),
        )
        .order_by(CompanyRelease.id.desc())
        .limit(1)
        .with_for_update()
    )
    release = result.scalar_one_or_none()
    if release is None:
        return None
    await _reinsert(session, EntityLink.__table__, release.links)  # type: ignore[arg-type]
    await _reinsert(session, ReviewRequest.__table__, release.review_requests)  # type: ignore[arg-type]
    release.restored_at = func.now()
    await session.flush()
    return release


@dataclass(frozen=True, slots=True)
class ReleaseSummary:
    realm_id: str
    company_name: str | None
    released_at: datetime
    link_count: int
    restored_at: datetime | None


async def summaries(session: AsyncSession, connection_id: uuid.UUID) -> list[ReleaseSummary]:
    """The connection's releases, newest first, without the archived rows themselves."""
    result = await session.execute(
        select(
            CompanyRelease.realm_id,
            CompanyRelease.company_name,
            CompanyRelease.released_at,
            CompanyRelease.link_count,
            CompanyRelease.restored_at,
        )
        .where(CompanyRelease.connection_id == connection_id)
        .order_by(CompanyRelease.id.desc())
    )
    return [ReleaseSummary(*row) for row in result.all()]
