"""The sync log of a connection (docs/design.md §2.3): read it, retry a failed entry or all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.auth import require_crm_api_key
from app.db.session import session_scope
from app.ids import RowId
from app.models import SyncLogEntry
from app.models.states import Direction, SyncState
from app.state import app_state
from app.sync import sync_log
from app.sync.connections.retry import retry_all_failed, retry_entry

router = APIRouter(dependencies=[Depends(require_crm_api_key)])


def entry_view(entry: SyncLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "direction": entry.direction.value,
        "kind": entry.kind,
        "crm_id": entry.crm_id,
        "qbo_id": entry.qbo_id,
        "state": entry.state.value,
        "message": entry.message,
        "action": entry.action,
        "qbo_error_code": entry.qbo_error_code,
        "qbo_error_element": entry.qbo_error_element,
        "intuit_tid": entry.intuit_tid,
        "qbo_requests": entry.qbo_requests,
        "details": entry.details,
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }


@router.get("/v1/connections/{location_id}/sync-log")
async def list_sync_log(
    request: Request,
    location_id: str,
    state: SyncState | None = None,
    kind: str | None = None,
    direction: Direction | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    before_id: RowId | None = None,
) -> dict[str, Any]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    app = app_state(request)
    async with session_scope(app.session_factory) as session:
        entries = await sync_log.entries(
            session,
            location_id,
            state=state,
            kind=kind,
            direction=direction,
            limit=limit,
            before_id=before_id,
        )
    return {"entries": [entry_view(entry) for entry in entries]}


@router.post(
    "/v1/connections/{location_id}/sync-log/{entry_id}/retry",
    status_code=202,
    responses={404: {"description": "No such entry"}, 409: {"description": "Not failed"}},
)
async def retry(request: Request, location_id: str, entry_id: RowId) -> JSONResponse:
    """Re-run a failed entry's CRM object with the newest snapshot received."""
    app = app_state(request)
    async with session_scope(app.session_factory) as session:
        queued = await retry_entry(session, app.job_app, location_id, entry_id)
    return JSONResponse(
        {"entry_id": queued.entry_id, "event_id": queued.event_id, "status": "queued"},
        status_code=202,
    )


class QueuedRetry(BaseModel):
    entry_id: int = Field(description="The failed sync-log entry.")
    event_id: str = Field(description="The CRM event re-run: the newest of the entry's object.")


class RetryAllResponse(BaseModel):
    queued: list[QueuedRetry] = Field(description="Oldest first; empty when nothing failed.")


@router.post(
    "/v1/connections/{location_id}/sync-log/retry-failed",
    status_code=202,
    response_model=RetryAllResponse,
)
async def retry_failed(request: Request, location_id: str) -> RetryAllResponse:
    """Retry all failed: re-run each CRM object whose newest entry failed, once.

    A failure followed by a newer entry of the same object is not retried; entries from
    QuickBooks (no CRM event) are left out. The same action as the card's Retry all and
    `qbo-sync retry --failed`."""
    app = app_state(request)
    async with session_scope(app.session_factory) as session:
        queued = await retry_all_failed(session, app.job_app, location_id)
    return RetryAllResponse(
        queued=[QueuedRetry(entry_id=q.entry_id, event_id=q.event_id) for q in queued]
    )
