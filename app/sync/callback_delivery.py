"""Delivery of the CRM callback outbox (DESIGN.md §2.4; issue 5, "Sync log and callbacks").

Callbacks are written to `crm_callbacks` in the transaction that produced them; this module sends
them. Each run claims due callbacks with `FOR UPDATE SKIP LOCKED` and **keeps the row locks
while it sends them**, then records every outcome and commits in that same transaction. So two
workers can never send one callback at once (the second skips locked rows), at the price of a
transaction open for the length of the HTTP calls; that is kept short by the client's 10 s
timeout, at most `SEND_CONCURRENCY` requests in flight, and by stopping a batch as soon as the CRM
looks unavailable. A crash after the CRM answered 2xx but before the commit sends the callback
again later, which the CRM's deduplication on `id` absorbs (at-least-once).

Outcomes: 2xx → delivered. A rejection (4xx) → failed with the CRM's answer. Anything else →
retried with capped exponential backoff and jitter (first ~5 s, at most 1 h, never sooner than a
Retry-After), until a failed attempt happens 3 days after the callback was created → failed
"gave up after 3 days". Every callback gets at least one attempt, however old, so callbacks that
waited for CRM_CALLBACK_URL to be configured are still sent. Without a URL nothing is sent and
nothing is marked failed.

Callbacks of one location are sent in creation order within a batch; retries can still reorder
them across batches, so the CRM orders by `occurred_at`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.db.session import SessionFactory, session_scope
from app.errors import PermanentError, TransientError
from app.integrations.crm.callbacks import CallbackClient, CallbackUnavailableError
from app.logging import get_logger
from app.models import CrmCallback
from app.repositories import crm_callbacks

log = get_logger(__name__)

GIVE_UP_AFTER = timedelta(days=3)
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 3600.0
SEND_CONCURRENCY = 8
_MAX_EXPONENT = 20  # 5 s * 2**20 is far past the cap; keeps the float finite.
_system_random = random.SystemRandom()

Outcome = Literal["delivered", "retrying", "failed"]
SendResult = Exception | None


@dataclass
class DeliveryReport:
    """What one run did. `held_back`: claimed but not sent because the CRM was unavailable."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    held_back: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def utc_now() -> datetime:
    return datetime.now(UTC)


def backoff_delay(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after `attempts` failed attempts (1 for the first failure).

    Capped exponential backoff with jitter between half the base and the ceiling, so callbacks
    that failed together (a CRM outage) do not all return at once. A Retry-After is honoured up
    to the cap, so a CRM asking for days cannot park a callback beyond its 3-day window.
    """
    exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
    ceiling = min(MAX_RETRY_S, FIRST_RETRY_S * 2**exponent)
    jittered = (rng or _system_random).uniform(FIRST_RETRY_S / 2, ceiling)
    if retry_after is None:
        return jittered
    return max(jittered, min(retry_after, MAX_RETRY_S))


_NO_URL_LOG_EVERY_S = 600.0
_no_url_logged_at: list[float] = []


def _log_no_url() -> None:
    # Every job and every 5 s sweep lands here while the URL is missing: say it now and then.
    now = time.monotonic()
    if _no_url_logged_at and now - _no_url_logged_at[-1] < _NO_URL_LOG_EVERY_S:
        return
    _no_url_logged_at[:] = [now]
    log.warning(
        "crm.callback.no_url",
        detail="CRM_CALLBACK_URL is not set; callbacks stay pending until it is",
    )


async def deliver_due(
    factory: SessionFactory,
    client: CallbackClient | None,
    *,
    limit: int = 50,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send up to `limit` due callbacks, oldest first, and record each outcome."""
    report = DeliveryReport()
    if client is None:
        _log_no_url()
        return report
    async with session_scope(factory) as session:
        callbacks = await crm_callbacks.claim_due(session, limit=limit, now=now())
        results = await _send_batch(client, callbacks)
        for callback in callbacks:
            if callback.id not in results:
                report.held_back += 1
                continue
            report.add(await _settle(session, callback, results[callback.id], now(), rng))
    return report


async def deliver_one(
    factory: SessionFactory,
    client: CallbackClient | None,
    callback_id: uuid.UUID,
    *,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
) -> Outcome | None:
    """Try one callback at once (after the transaction that wrote it committed).

    None when nothing was sent: no URL, not pending, not yet due for a retry, or being sent by
    another worker right now.
    """
    if client is None:
        _log_no_url()
        return None
    async with session_scope(factory) as session:
        callback = await crm_callbacks.claim_one(session, callback_id, now=now())
        if callback is None:
            return None
        result = await _attempt(client, callback)
        return await _settle(session, callback, result, now(), rng)


async def _send_batch(
    client: CallbackClient, callbacks: Sequence[CrmCallback]
) -> dict[uuid.UUID, SendResult]:
    """Send in order per location, locations side by side; callbacks left out were not sent.

    The first sign that the CRM is unavailable stops the batch: the rest stay pending and due,
    instead of each waiting for its own timeout while the batch's row locks are held.
    """
    results: dict[uuid.UUID, SendResult] = {}
    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    stop = asyncio.Event()

    async def lane(group: list[CrmCallback]) -> None:
        for callback in group:
            async with gate:
                if stop.is_set():
                    return
                results[callback.id] = await _attempt(client, callback)
            if isinstance(results[callback.id], CallbackUnavailableError):
                stop.set()

    await asyncio.gather(*(lane(group) for group in _by_location(callbacks)))
    return results


def _by_location(callbacks: Sequence[CrmCallback]) -> list[list[CrmCallback]]:
    groups: dict[str, list[CrmCallback]] = {}
    for callback in callbacks:
        groups.setdefault(callback.location_id, []).append(callback)
    return list(groups.values())


async def _attempt(client: CallbackClient, callback: CrmCallback) -> SendResult:
    try:
        await client.send(
            str(callback.id),
            callback.type,
            callback.location_id,
            callback.payload,
            callback.created_at,
        )
    except Exception as exc:
        if not isinstance(exc, PermanentError | TransientError):
            # A bug or odd data in one callback must not stall the others; retried like an outage.
            log.exception("crm.callback.send_crashed", callback_id=str(callback.id))
        return exc
    return None


async def _settle(
    session: AsyncSession,
    callback: CrmCallback,
    result: SendResult,
    now: datetime,
    rng: random.Random | None,
) -> Outcome:
    attempts = callback.attempts + 1
    fields = {
        "callback_id": str(callback.id),
        "type": callback.type,
        "location_id": callback.location_id,
        "attempts": attempts,
    }
    if result is None:
        await crm_callbacks.mark_delivered(session, callback.id, at=now)
        log.info("crm.callback.delivered", **fields)
        metrics.CALLBACKS.labels(outcome="delivered").inc()
        return "delivered"
    reason = _reason(callback, result, now)
    if reason is not None:
        await crm_callbacks.mark_failed(session, callback.id, reason)
        log.warning("crm.callback.failed", error=reason, **fields)
        metrics.CALLBACKS.labels(outcome="failed").inc()
        return "failed"
    retry_after = result.retry_after_s if isinstance(result, TransientError) else None
    at = now + timedelta(seconds=backoff_delay(attempts, retry_after, rng))
    error = _describe(result)
    await crm_callbacks.schedule_retry(session, callback.id, at=at, error=error)
    metrics.CALLBACKS.labels(outcome="retrying").inc()
    log.info("crm.callback.retry_scheduled", error=error, next_attempt_at=at.isoformat(), **fields)
    return "retrying"


def _reason(callback: CrmCallback, error: Exception, now: datetime) -> str | None:
    """Why this failed attempt is the last one, or None when it is worth retrying."""
    if isinstance(error, PermanentError):
        return _describe(error)
    if now - callback.created_at >= GIVE_UP_AFTER:
        return f"gave up after 3 days: {_describe(error)}"
    return None


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
