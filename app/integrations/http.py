"""The one outbound HTTP client a process shares (QBO API, CRM callbacks)."""

from __future__ import annotations

import httpx
from httpx import AsyncClient

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "build_http_client"]

# QBO times a request out at 120 s; waiting 25 s and retrying is kinder to a job queue.
DEFAULT_TIMEOUT = httpx.Timeout(25.0, connect=10.0)


def build_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
