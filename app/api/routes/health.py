"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.state import app_state
from app.repositories.health import schema_is_current

router = APIRouter()

_READY_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; the body says why"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the current migration."""
    state = app_state(request)
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), state.engine.connect() as connection:
            current = await schema_is_current(connection, state.migration_heads)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    if not current:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": "behind; run qbo-sync migrate",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})
