"""Every processed event ends as one sync-log entry and one `sync.result` callback, together.

Reading the log is one operator action too: `entries` serves the API, the card and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.crm.callback_payloads import SyncedObject, SyncResultCallback
from app.integrations.quickbooks.errors import action_for
from app.models import SyncLogEntry
from app.models.states import Direction, SyncState
from app.repositories import crm_callbacks, sync_log
from app.services.locations import require_connection
from app.sync.flow import FlowContext
from app.sync.results import SyncResult


def _details(ctx: FlowContext, result: SyncResult) -> dict[str, Any]:
    details: dict[str, Any] = {"qbo_ids": ctx.qbo_ids}
    if ctx.notes:
        details["notes"] = ctx.notes
    if result.error is not None and result.error.detail:
        details["qbo_detail"] = result.error.detail[:1000]
    return details


async def record(
    ctx: FlowContext, result: SyncResult, *, crm_event_id: int, event_id: str
) -> SyncLogEntry:
    error = result.error
    entry = await sync_log.add(
        ctx.session,
        SyncLogEntry(
            connection_id=ctx.connection.id,
            direction=Direction.CRM_TO_QBO,
            kind=result.kind,
            crm_id=result.crm_id,
            qbo_id=result.qbo_id,
            state=result.state,
            message=result.message,
            action=result.action or (action_for(error) if error is not None else None),
            qbo_error_code=error.code if error is not None else None,
            qbo_error_element=error.element if error is not None else None,
            intuit_tid=error.intuit_tid if error is not None else None,
            crm_event_id=crm_event_id,
            qbo_requests=ctx.counter.count,
            details=_details(ctx, result),
        ),
    )
    # Skips are the CRM's business too: it may show "not synced: created before connecting".
    await crm_callbacks.enqueue(
        ctx.session, ctx.connection.location_id, _callback(result, entry, event_id)
    )
    return entry


def _callback(result: SyncResult, entry: SyncLogEntry, event_id: str) -> SyncResultCallback:
    """The one place a `sync.result` callback is built: the entry as the CRM sees it."""
    return SyncResultCallback(
        event_id=event_id,
        object_=SyncedObject(kind=result.kind, crm_id=result.crm_id),
        state=result.state,
        qbo_id=result.qbo_id,
        message=result.message,
        action=entry.action,
        error_code=entry.qbo_error_code,
        sync_log_id=entry.id,
    )


def outcome_reason(result: SyncResult) -> str | None:
    if result.state is SyncState.SYNCED:
        return None
    return result.message


async def entries(
    session: AsyncSession,
    location_id: str,
    *,
    state: SyncState | None = None,
    kind: str | None = None,
    direction: Direction | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[SyncLogEntry]:
    """A location's entries, newest first; page with `before_id` (the last id of a page).

    UnknownLocationError for a location that never started connecting."""
    connection = await require_connection(session, location_id)
    return await sync_log.search(
        session,
        connection.id,
        state=state,
        kind=kind,
        direction=direction,
        limit=limit,
        before_id=before_id,
    )
