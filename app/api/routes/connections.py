"""Connections, as far as the foundation goes: a CRM backend registers its location."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import require_crm_api_key
from app.api.state import app_state
from app.db.session import session_scope
from app.repositories import connections

router = APIRouter(dependencies=[Depends(require_crm_api_key)])


class ConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(min_length=1, max_length=200)
    import_invoices: bool = False
    review_automation: bool = False
    return_url: str | None = Field(default=None, max_length=2000)


@router.post("/v1/connections", status_code=201)
async def create_connection(request: Request, body: ConnectionRequest) -> JSONResponse:
    """Register a CRM location so its events are accepted (the OAuth connect URL comes later)."""
    state = app_state(request)
    async with session_scope(state.session_factory) as session:
        connection = await connections.register_location(
            session,
            body.location_id,
            import_invoices=body.import_invoices,
            review_automation=body.review_automation,
        )
    return JSONResponse(
        {
            "location_id": connection.location_id,
            "status": connection.status.value,
            "connect_url": None,
            "expires_at": None,
        },
        status_code=201,
    )
