"""Liveness and readiness of this replica (docs/design.md, 6. Operations)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.repositories.health import schema_is_current
from app.repositories.jobs import queue_backlog, worker_heartbeats
from app.services.readiness import JobsView, judge_jobs
from app.services.worker_state import WorkerState
from app.state import AppState, app_state

router = APIRouter()

_READY_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """The process is up, and its job worker (if it runs one) has not given up (else 503)."""
    worker = app_state(request).worker
    if worker is None:
        return JSONResponse({"status": "ok"})
    status = worker.status()
    if status.state is WorkerState.GAVE_UP:
        return JSONResponse(
            {"status": "failing", "worker": status.describe(), "action": "restart the process"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "worker": status.state.value})


@router.get("/readyz", responses={503: {"description": "Not ready; the body says why"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, its schema is current, this replica's worker (if it
    runs one) is alive, and runnable jobs are not left without any live worker."""
    state = app_state(request)
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), state.engine.connect() as connection:
            current = await schema_is_current(connection, state.migration_heads)
            view = await _jobs_view(state, connection) if current else None
    except Exception as exc:
        return _unavailable(database="unreachable", error=type(exc).__name__)
    if view is None:
        return _unavailable(database="ok", migrations="behind; run qbo-sync migrate")
    verdict = judge_jobs(view)
    body: dict[str, Any] = {"database": "ok", "migrations": "current", **verdict.details}
    if verdict.problem is not None:
        return _unavailable(**body, jobs=verdict.problem)
    return JSONResponse({"status": "ok", **body})


async def _jobs_view(state: AppState, connection: Any) -> JobsView:
    worker = state.worker.status() if state.worker is not None else None
    settings = state.settings
    waiting, oldest_wait_s = await queue_backlog(connection)
    beats = await worker_heartbeats(
        connection,
        stalled_after_s=settings.worker.stalled_after_s,
        own_worker_id=worker.worker_id if worker is not None else None,
    )
    return JobsView(
        runnable=waiting,
        oldest_runnable_wait_s=oldest_wait_s,
        heartbeats=beats,
        own_worker=worker,
        max_wait_s=settings.ready_max_job_wait_s,
        stalled_after_s=settings.worker.stalled_after_s,
    )


def _unavailable(**fields: Any) -> JSONResponse:
    return JSONResponse({"status": "unavailable", **fields}, status_code=503)
