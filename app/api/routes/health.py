"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.state import app_state
from app.repositories.health import schema_is_current
from app.repositories.jobs import queue_backlog

router = APIRouter()

_READY_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; the body says why"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, its schema is current and jobs are not left waiting."""
    state = app_state(request)
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), state.engine.connect() as connection:
            current = await schema_is_current(connection, state.migration_heads)
            waiting, oldest_wait_s = await queue_backlog(connection) if current else (0, 0.0)
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
    limit = state.settings.ready_max_job_wait_s
    if oldest_wait_s > limit:
        # Events are accepted but nothing runs them: no worker, or every worker stuck.
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": "current",
                "jobs": (
                    f"{waiting} job(s) waiting; the oldest for {oldest_wait_s:.0f} s, over the"
                    f" {limit:.0f} s limit (QBS_READY_MAX_JOB_WAIT_S): is a worker running?"
                ),
            },
            status_code=503,
        )
    return JSONResponse(
        {"status": "ok", "database": "ok", "migrations": "current", "jobs_waiting": waiting}
    )
