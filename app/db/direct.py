"""A plain psycopg pool for hot paths that are one SQL statement (the CRM event intake).

The ORM session costs several round trips and a few milliseconds of CPU per unit of work (pool
ping, BEGIN, statement compilation, COMMIT); intake runs for every CRM event, so it uses one
autocommit statement on a pooled connection instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from app.db.session import libpq_url
from app.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
DirectConnection = psycopg.AsyncConnection[Any]
DirectPool = AsyncConnectionPool[DirectConnection]


def create_direct_pool(url: str, *, max_size: int = 10, timeout_s: float = 5.0) -> DirectPool:
    """An unopened pool of autocommit connections; open it with ``await pool.open()``."""
    return AsyncConnectionPool(
        libpq_url(url),
        min_size=1,
        max_size=max_size,
        timeout=timeout_s,
        kwargs={"autocommit": True},
        # The default backs off for up to 5 minutes after an outage: intake would keep answering
        # 503 long after the database (and /readyz) are back.
        reconnect_timeout=timeout_s,
        open=False,
        name="direct",
    )


@asynccontextmanager
async def direct_pool(url: str, *, max_size: int = 10) -> AsyncIterator[DirectPool]:
    pool = create_direct_pool(url, max_size=max_size)
    # wait=False: a database that is briefly down at start-up shows as 503s, not a failed boot.
    await pool.open(wait=False)
    try:
        yield pool
    finally:
        await pool.close()


async def run_once_retrying_stale(
    pool: DirectPool, work: Callable[[DirectConnection], Awaitable[T]]
) -> T:
    """Run one idempotent statement; retry once on a good connection if the first was stale.

    After a database restart every pooled connection is dead. Without the retry each of them
    would fail one request before the pool replaces it; and a retry on the next idle connection
    would meet another dead one, so the idle ones are checked (and the dead replaced) first.
    Checking on every checkout instead would cost the hot path a round trip per statement.
    Only the callers' statements are idempotent (ON CONFLICT DO NOTHING), so a retry after an
    answer lost in transit is harmless.
    """
    async with pool.connection() as conn:
        try:
            return await work(conn)
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            log.warning("db.direct.stale_connection")
    await pool.check()
    async with pool.connection() as conn:
        return await work(conn)
