"""The uvicorn server of `qbo-sync serve`, with its limits against slow and numerous clients."""

from __future__ import annotations

import gc

import uvicorn
from fastapi import FastAPI

from app.api.http_guard import guarded_protocol
from app.config import Settings

# Request line and headers of one request; h11's default is 16 KiB, httptools has none.
MAX_HEADER_BYTES = 64 * 1024


def server_config(app: FastAPI, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
        http=guarded_protocol(
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            max_header_bytes=MAX_HEADER_BYTES,
        ),
        timeout_keep_alive=settings.http_keep_alive_s,
        limit_concurrency=settings.http_max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


# Objects allocated between young-generation collections (CPython's default is 700). A request
# allocates a few hundred short-lived objects, freed by reference counting; collecting every 700
# allocations cost ~9 % of the intake's CPU and its p99 (docs/design.md §5, intake).
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Before serving: keep the objects built so far (modules, routes, settings) out of every
    later collection, and collect the young generation less often. Only for a serving process:
    a test process that builds many apps would keep each one's cycles for good."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
