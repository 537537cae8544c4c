"""A connection's callbacks to the CRM (docs/design.md §2.4): see failed ones, send them again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from app.api.auth import require_crm_api_key
from app.db.session import session_scope
from app.models import CrmCallback
from app.models.states import CallbackState
from app.services import callback_resend
from app.state import app_state

router = APIRouter(dependencies=[Depends(require_crm_api_key)])

_TEXT, _WHEN = {"type": "string"}, {"type": ["string", "null"], "format": "date-time"}
_CALLBACK = {
    "type": "object",
    "required": ["id", "type", "state", "attempts", "created_at"],
    "properties": {
        "id": {**_TEXT, "format": "uuid", "description": "The callback's `id` the CRM saw."},
        "type": _TEXT,
        "state": {"enum": [state.value for state in CallbackState]},
        "attempts": {"type": "integer", "minimum": 0, "description": "Since the last resend."},
        "last_error": {"type": ["string", "null"], "description": "Why the last attempt failed."},
        **{
            name: _WHEN
            for name in (
                "created_at",
                "next_attempt_at",
                "delivered_at",
                "failed_at",
                "resent_at",
            )
        },
    },
}
_LISTED = {
    "description": "The callbacks, newest first",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["callbacks"],
                "properties": {"callbacks": {"type": "array", "items": _CALLBACK}},
            }
        }
    },
}
_RESENT = {
    "description": "Failed callbacks made due again; the deliverer sends them now",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["location_id", "resent", "status"],
                "properties": {
                    "location_id": _TEXT,
                    "resent": {"type": "integer", "minimum": 0},
                    "status": {"const": "queued"},
                },
            }
        }
    },
}

_SINCE = "Only callbacks written at or after this time (RFC 3339; without a zone, UTC)."
Since = Annotated[datetime | None, Query(description=_SINCE)]


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def callback_view(callback: CrmCallback) -> dict[str, Any]:
    return {
        "id": str(callback.id),
        "type": callback.type,
        "state": callback.state.value,
        "attempts": callback.attempts,
        "last_error": callback.last_error,
        "created_at": _when(callback.created_at),
        "next_attempt_at": _when(callback.next_attempt_at),
        "delivered_at": _when(callback.delivered_at),
        "failed_at": _when(callback.failed_at),
        "resent_at": _when(callback.resent_at),
    }


@router.get("/v1/connections/{location_id}/callbacks", responses={200: _LISTED})
async def list_callbacks(
    request: Request,
    location_id: str,
    state: CallbackState | None = None,
    since: Since = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    """The location's callbacks, newest first; `state=failed` shows what the CRM never got."""
    app = app_state(request)
    async with session_scope(app.session_factory) as session:
        found = await callback_resend.list_callbacks(
            session, location_id, state=state, since=since, limit=limit
        )
    return {"callbacks": [callback_view(callback) for callback in found]}


@router.post(
    "/v1/connections/{location_id}/callbacks/resend", status_code=202, responses={202: _RESENT}
)
async def resend(
    request: Request,
    location_id: str,
    since: Since = None,
) -> JSONResponse:
    """Send the location's failed callbacks again (due now, the deliverer is woken).

    Each starts a fresh give-up window and backoff; the CRM deduplicates on `id`.
    """
    app = app_state(request)
    async with session_scope(app.session_factory) as session:
        ids = await callback_resend.resend_failed(session, app.job_app, location_id, since=since)
    return JSONResponse(
        {"location_id": location_id, "resent": len(ids), "status": "queued"}, status_code=202
    )
