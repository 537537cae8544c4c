"""Per-realm QBO limits held across every process: the client waits instead of being throttled."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.db.session import SessionFactory, side_transaction
from app.logging import get_logger
from app.repositories import qbo_limits

log = get_logger(__name__)

# Intuit ("API call limits and throttles", developer.intuit.com/app/developer/qbo/docs/learn/
# limits-and-throttles): 500 requests a minute per realm; 10 requests a second and 10 in flight
# per realm and app (we are one app). Capping only the requests in flight is not enough: at
# ~150 ms a request, 10 in flight is ~66 a second. Margins keep our clock and Intuit's (and
# the requests' arrival jitter) from disagreeing about which window a request fell in.
DEFAULT_PER_MINUTE = 490
DEFAULT_PER_SECOND = 10
DEFAULT_IN_FLIGHT = 10
# 10 per 1.2 s is 8.3 a second, i.e. 500 a minute: the second window never binds below the
# 490-a-minute cap in a steady stream, and a burst keeps 0.2 s of slack for requests that
# reach Intuit later than they left us (a busy event loop, a slow connection).
SECOND_WINDOW_S = 1.2
# Longer than QBO's own 120 s request timeout: a slot outlives any request that could hold it.
LEASE_S = 150.0
_POLL_S = 0.02


class PostgresRealmLimiter:
    def __init__(
        self,
        factory: SessionFactory,
        *,
        per_minute: int = DEFAULT_PER_MINUTE,
        per_second: int = DEFAULT_PER_SECOND,
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        max_wait_s: float = 300.0,
    ) -> None:
        self._factory = factory
        self._per_minute = per_minute
        self._per_second = per_second
        self._max_in_flight = max_in_flight
        self._max_wait_s = max_wait_s
        # Callers in this process queue here first, so only as many as could possibly run ask
        # the database; the database then arbitrates between processes.
        self._local: dict[str, asyncio.Semaphore] = {}

    async def _acquire(self, realm_id: str) -> int:
        waited = 0.0
        attempt = 0
        while True:
            async with side_transaction(self._factory) as session:
                slot, wait_s = await qbo_limits.try_acquire(
                    session,
                    realm_id,
                    max_in_flight=self._max_in_flight,
                    per_minute=self._per_minute,
                    per_second=self._per_second,
                    second_s=SECOND_WINDOW_S,
                    lease_s=LEASE_S,
                )
            if slot is not None:
                return slot
            # Jitter so waiting processes do not all ask again at the same instant.
            pause = max(wait_s, _POLL_S * 2 ** min(attempt, 4)) * random.uniform(1.0, 1.5)  # noqa: S311
            attempt += 1
            if waited + pause > self._max_wait_s:
                raise TimeoutError(
                    f"no QBO request slot for realm {realm_id} within {self._max_wait_s:.0f} s"
                )
            waited += pause
            await asyncio.sleep(pause)

    @asynccontextmanager
    async def slot(self, realm_id: str) -> AsyncIterator[None]:
        local = self._local.setdefault(realm_id, asyncio.Semaphore(self._max_in_flight))
        async with local:
            slot_id = await self._acquire(realm_id)
            try:
                yield
            finally:
                async with side_transaction(self._factory) as session:
                    await qbo_limits.release(session, slot_id)
