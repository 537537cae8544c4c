"""The CDC backstop (Q1): changes missed by webhooks reach the same path within one interval.

Per active connection, at most every `interval` (5 minutes by default; at once after a reconnect
through `poll_now`): ask `/cdc` for the changes of every entity the service syncs (Customer,
Invoice and Payment: app/integrations/quickbooks/change_entities.py) since the stored
watermark minus an overlap, and store each changed object as a `qbo_changes` row through the
webhook intake, so processing, batching and ordering are the same. The dedupe key holds the
object's LastUpdatedTime, so overlapping polls store nothing twice; a version whose SyncToken
the link already holds (seen through a webhook, or written by us) is not stored at all.

CDC looks back 30 days and returns at most 1000 objects with no paging: for an older watermark,
or a full answer, the same window is re-read with paged queries on MetaData.LastUpdatedTime.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import session_scope
from app.errors import AppError
from app.integrations.quickbooks.change_entities import CHANGE_ENTITIES
from app.integrations.quickbooks.client import CDC_MAX_OBJECTS
from app.integrations.quickbooks.entities import QboEntity
from app.integrations.quickbooks.query import Select
from app.integrations.quickbooks.webhooks import EntityChange, SourceFormat, parse_qbo_time
from app.logging import get_logger
from app.models import Connection
from app.models.states import ConnectionStatus, ImportState
from app.repositories import qbo_change_batches, qbo_links
from app.services.container import Runtime
from app.services.intake import accept_qbo_changes
from app.sync.flow import FlowContext, flow_context

log = get_logger(__name__)

# What CDC asks for, and the link kinds whose SyncTokens mark versions already seen (our own
# writes among them): both read from the entity table.
ENTITIES: dict[str, type[QboEntity]] = {
    name: entity.model for name, entity in CHANGE_ENTITIES.items() if entity.model is not None
}
LINK_KINDS: dict[str, str] = {
    name: entity.link_kind for name, entity in CHANGE_ENTITIES.items() if entity.link_kind
}
OVERLAP = timedelta(minutes=2)
# QBO's limit is 30 days; an hour less leaves room for clock skew.
CDC_MAX_AGE = timedelta(days=30) - timedelta(hours=1)
# How often each connection is polled; the periodic task may fire more often than this.
CDC_INTERVAL_S = 300.0
# Intake's source column: "cdc" is not a webhook format, but names where the row came from.
CDC_SOURCE: SourceFormat = "cdc"


@dataclass(frozen=True)
class Changed:
    entity: str
    entity_id: str
    sync_token: str | None
    last_updated: str
    deleted: bool


@dataclass(frozen=True)
class PollReport:
    connection_id: uuid.UUID
    outcome: str  # "polled", "not_due", "busy", "inactive"
    mode: str | None = None  # "cdc" or "query"
    found: int = 0
    accepted: int = 0


def interval_s(runtime: Runtime) -> float:
    """`settings.worker.cdc_interval_s` when the settings have it, else CDC_INTERVAL_S."""
    value = getattr(runtime.settings.worker, "cdc_interval_s", None)
    return float(value) if value else CDC_INTERVAL_S


async def poll_connection(
    runtime: Runtime, job_app: App, connection_id: uuid.UUID, *, interval: float | None = None
) -> PollReport:
    """Poll one connection; with `interval`, only when its last poll is at least that old."""
    async with session_scope(runtime.session_factory) as session:
        if not await qbo_change_batches.try_lock_cdc(session, connection_id):
            return PollReport(connection_id, "busy")
        connection = await qbo_change_batches.get_connection(session, connection_id)
        if connection is None or connection.status is not ConnectionStatus.ACTIVE:
            return PollReport(connection_id, "inactive")
        now = datetime.now(UTC)
        if connection.import_phase is not ImportState.DONE:
            # The initial import is reading everything; polling now would read it all again.
            return PollReport(connection_id, "importing")
        watermark = connection.cdc_watermark
        if watermark is None:
            # First poll after the import: it saw every object as of its run; start from here.
            await qbo_change_batches.set_watermark(session, connection.id, now)
            return PollReport(connection_id, "started")
        if interval is not None and watermark and now - watermark < timedelta(seconds=interval):
            return PollReport(connection_id, "not_due")
        since = (watermark or connection.connected_at or now) - OVERLAP
        ctx = flow_context(session, runtime.services, connection)
        mode, objects = await _changed_since(ctx, since, now)
        changes = await _unseen(session, connection, objects)
        result = await accept_qbo_changes(session, job_app, changes)
        await qbo_change_batches.set_watermark(session, connection.id, now)
    log.info(
        "qbo.cdc.polled",
        connection_id=str(connection_id),
        mode=mode,
        found=len(objects),
        accepted=result.accepted,
    )
    return PollReport(connection_id, "polled", mode, len(objects), result.accepted)


async def poll_now(runtime: Runtime, job_app: App, connection_id: uuid.UUID) -> PollReport:
    """Poll at once, whatever the interval (after a reconnect)."""
    return await poll_connection(runtime, job_app, connection_id)


async def poll_all(
    runtime: Runtime, job_app: App, *, interval: float | None = None
) -> list[PollReport]:
    """Poll every active connection whose last poll is at least `interval` seconds old."""
    every = interval if interval is not None else interval_s(runtime)
    async with runtime.session_factory() as session:
        ids = await qbo_change_batches.active_connection_ids(session)
    reports: list[PollReport] = []
    for connection_id in ids:
        try:
            reports.append(await poll_connection(runtime, job_app, connection_id, interval=every))
        except AppError as exc:
            # One company failing (token, QBO outage) must not stop the others.
            log.warning("qbo.cdc.failed", connection_id=str(connection_id), error=str(exc))
    return reports


async def _changed_since(
    ctx: FlowContext, since: datetime, now: datetime
) -> tuple[str, list[Changed]]:
    if now - since < CDC_MAX_AGE:
        raw = await ctx.qbo.cdc(list(ENTITIES), since)
        if sum(len(rows) for rows in raw.values()) < CDC_MAX_OBJECTS:
            return "cdc", [
                item
                for entity, rows in raw.items()
                for row in rows
                if (item := _from_raw(entity, row)) is not None
            ]
    return "query", await _reread(ctx, since)


def _from_raw(entity: str, row: dict[str, Any]) -> Changed | None:
    entity_id = row.get("Id")
    meta = row.get("MetaData")
    updated = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
    if not isinstance(entity_id, str) or not entity_id:
        return None
    token = row.get("SyncToken")
    return Changed(
        entity=entity,
        entity_id=entity_id,
        sync_token=token if isinstance(token, str) else None,
        last_updated=str(updated or ""),
        deleted=row.get("status") == "Deleted",
    )


async def _reread(ctx: FlowContext, since: datetime) -> list[Changed]:
    """Everything changed since `since`, by paged queries (deleted objects cannot be seen)."""
    found: list[Changed] = []
    for name, entity in ENTITIES.items():
        select = Select(entity).where("MetaData.LastUpdatedTime", ">=", since)
        if CHANGE_ENTITIES[name].read_inactive:
            select = select.include_inactive()
        async for page in ctx.qbo.query_all(select, entity):
            found.extend(
                Changed(
                    entity=name,
                    entity_id=item.Id,
                    sync_token=item.SyncToken,
                    last_updated=item.MetaData.LastUpdatedTime.isoformat()
                    if item.MetaData and item.MetaData.LastUpdatedTime
                    else "",
                    deleted=False,
                )
                for item in page
                if item.Id
            )
    return found


async def _unseen(
    session: AsyncSession, connection: Connection, objects: list[Changed]
) -> list[EntityChange]:
    """The objects as intake changes, minus versions a link already holds."""
    assert connection.realm_id is not None
    seen: dict[str, dict[str, str | None]] = {}
    for entity, kind in LINK_KINDS.items():
        ids = [o.entity_id for o in objects if o.entity == entity]
        links = await qbo_links.by_qbo_ids(session, connection.id, kind, ids)
        seen[entity] = {qbo_id: link.sync_token for qbo_id, link in links.items()}
    return [
        EntityChange(
            realm_id=connection.realm_id,
            entity=o.entity,
            entity_id=o.entity_id,
            operation="Delete" if o.deleted else "Update",
            occurred_at=parse_qbo_time(o.last_updated),
            deleted_id=None,
            dedupe_key=f"cdc:{o.entity}:{o.entity_id}:{o.last_updated}"[:255],
            source_format=CDC_SOURCE,
        )
        for o in objects
        if _is_new(o, seen.get(o.entity, {}))
    ]


def _is_new(changed: Changed, link_tokens: dict[str, str | None]) -> bool:
    if changed.deleted or changed.sync_token is None:
        return True
    return link_tokens.get(changed.entity_id) != changed.sync_token
