"""GET /metrics: Prometheus text exposition (no auth, like /healthz; bind or proxy accordingly)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import metrics
from app.logging import get_logger
from app.repositories.jobs import queue_backlog
from app.state import app_state

router = APIRouter()
log = get_logger(__name__)

_QUEUE_TIMEOUT_S = 3.0


@router.get("/metrics", response_class=Response)
async def get_metrics(request: Request) -> Response:
    """Counters of this process, plus the job queue's depth and oldest wait read now."""
    state = app_state(request)

    async def read_queue() -> metrics.QueueStats:
        async with asyncio.timeout(_QUEUE_TIMEOUT_S), state.engine.connect() as connection:
            waiting, oldest = await queue_backlog(connection)
        return metrics.QueueStats(waiting=waiting, oldest_wait_s=oldest)

    try:
        body = await metrics.render(read_queue)
    except Exception as exc:
        # A scrape must still show the counters when the database is down; /readyz says why.
        log.warning("metrics.queue_unreadable", error=type(exc).__name__)
        body = await metrics.render(None)
    return Response(body, media_type=metrics.CONTENT_TYPE)
