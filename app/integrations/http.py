"""The one outbound HTTP client a process shares (QBO API, CRM callbacks)."""

from __future__ import annotations

import httpx
from httpx import AsyncClient

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "build_http_client"]

# QBO times a request out at 120 s; waiting 25 s and retrying is kinder to a job queue.
DEFAULT_TIMEOUT = httpx.Timeout(25.0, connect=10.0)
# An idle connection is dropped before common servers close theirs (uvicorn and Node: 5 s, the
# same as httpx's default). Sent on a connection the server is closing, a QBO create gets no
# answer, and an unanswered create must wait QBO_WRITE_SETTLE_S before its lookup: a race that
# costs minutes is worth a new connection after 4 idle seconds.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0
)


def build_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS)
