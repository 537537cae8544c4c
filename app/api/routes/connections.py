"""Connections (DESIGN.md §2.3): the CRM backend starts, inspects, toggles and ends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.auth import require_crm_api_key
from app.api.state import app_state
from app.db.session import session_scope
from app.sync import connections_admin
from app.text_rules import unstorable

router = APIRouter(dependencies=[Depends(require_crm_api_key)])

LocationId = str


class ConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(min_length=1, max_length=200)
    import_invoices: bool = False
    review_automation: bool = False
    return_url: str = Field(min_length=1, max_length=2000)

    @field_validator("location_id", "return_url")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if unstorable(value):
            raise ValueError("must not contain a NUL character or an unpaired surrogate")
        return value


class ConnectLinkResponse(BaseModel):
    location_id: str
    connect_url: str
    expires_at: datetime


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    review_automation: bool


@router.post("/v1/connections", status_code=201, response_model=ConnectLinkResponse)
async def create_connection(request: Request, body: ConnectionRequest) -> ConnectLinkResponse:
    """Start connecting a location: a single-use connect URL valid for 10 minutes."""
    link = await app_state(request).services.connect.start(
        location_id=body.location_id,
        import_invoices=body.import_invoices,
        review_automation=body.review_automation,
        return_url=body.return_url,
    )
    return ConnectLinkResponse(
        location_id=body.location_id, connect_url=link.url, expires_at=link.expires_at
    )


@router.get("/v1/connections/{location_id}", responses={404: {"description": "Unknown location"}})
async def get_connection(request: Request, location_id: LocationId) -> dict[str, Any]:
    """Status, settings, company facts, import progress and counts by state."""
    state = app_state(request)
    async with session_scope(state.session_factory) as session:
        return await connections_admin.describe(session, location_id)


@router.patch("/v1/connections/{location_id}", responses={404: {"description": "Unknown location"}})
async def patch_connection(
    request: Request, location_id: LocationId, body: ConnectionPatch
) -> dict[str, Any]:
    """Switch review automation on or off."""
    state = app_state(request)
    async with session_scope(state.session_factory) as session:
        await connections_admin.set_review_automation(session, location_id, body.review_automation)
        return await connections_admin.describe(session, location_id)


@router.delete(
    "/v1/connections/{location_id}", responses={404: {"description": "Unknown location"}}
)
async def delete_connection(request: Request, location_id: LocationId) -> JSONResponse:
    """Revoke the tokens at Intuit and mark the connection disconnected; events still wait."""
    state = app_state(request)
    result = await connections_admin.disconnect(
        state.session_factory, state.services.oauth, state.services.cipher, location_id
    )
    state.services.tokens.forget(result.realm_id or "")
    return JSONResponse(
        {"location_id": location_id, "status": "disconnected", "revoked": result.revoked}
    )
