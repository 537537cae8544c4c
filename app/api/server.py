"""The uvicorn server of `qbo-sync serve`, with its limits against slow and numerous clients."""

from __future__ import annotations

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
