"""Delivery of the CRM callback outbox (docs/design.md §2.4).

Callbacks are written to `crm_callbacks` in the transaction that produced them; only the
deliverer job (`crm.callbacks.deliver`, every 5 s and woken by any job that wrote one, see
`wake_deliverer`) sends them. The job runs under a procrastinate lock, so it takes at most one
worker slot however slow the CRM is, and a slow CRM never holds up a QuickBooks sync job.

No transaction is open while the CRM is called. A run *leases* up to `limit` due callbacks in a
short transaction (`next_attempt_at` = now + lease, plus a claim token) and commits; it sends them
outside any transaction; each outcome is then recorded in a short transaction of its own, only
if the run still holds the lease. So two deliverers never send one callback at once while the
lease holds, and a deliverer that dies mid-send leaves its callbacks due again when the lease ends.
A run stops starting sends once its time budget (the lease minus two timeouts) is spent, and gives
back what it did not send, so a send never outlives its lease. A crash after the CRM answered 2xx
but before the outcome was recorded sends the callback again later, which the CRM's
deduplication on `id` absorbs (at-least-once).

Outcomes: 2xx → delivered. A verdict on the payload (400/410/413/422, see
app/integrations/crm/callbacks.py) → failed with the CRM's answer. Anything else (401, 403, 404,
5xx, timeouts, network) → retried with capped exponential backoff and jitter (first ~5 s, at most
1 h, never sooner than a Retry-After), until a failed attempt happens `give_up_after`
(CRM_CALLBACK_GIVE_UP_AFTER_S, 3 days) after the callback was written or last resent → failed
"gave up after ...". Failed callbacks are listed by `qbo-sync callbacks list --failed` and
`GET /v1/connections/{location_id}/callbacks?state=failed`, and sent again by `qbo-sync callbacks
resend` or `POST /v1/connections/{location_id}/callbacks/resend`. Every callback gets at least
one attempt, however old, so callbacks that waited for CRM_CALLBACK_URL to be configured are
still sent. Without a URL nothing is sent and nothing is marked failed.

Callbacks of one location are sent in creation order within a batch (one lane per location,
locations side by side); retries can still reorder them across batches, so the CRM orders by
`occurred_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.db.session import SessionFactory, raw_connection, session_scope
from app.errors import PermanentError, TransientError
from app.integrations.crm.callbacks import CallbackSender, CallbackUnavailableError
from app.logging import get_logger
from app.models import CrmCallback
from app.repositories import crm_callbacks
from app.services import job_names as names
from app.services.callback_policy import (
    DEFAULT_POLICY,
    FIRST_RETRY_S,
    GIVE_UP_AFTER,
    MAX_RETRY_S,
    DeliveryPolicy,
    backoff_delay,
    describe,
    give_up_reason,
)

__all__ = [
    "DEFAULT_POLICY",
    "FIRST_RETRY_S",
    "GIVE_UP_AFTER",
    "MAX_RETRY_S",
    "DeliveryPolicy",
    "DeliveryReport",
    "backoff_delay",
    "deliver_due",
    "drain",
    "wake_deliverer",
    "wake_deliverer_in",
]

log = get_logger(__name__)

SEND_CONCURRENCY = 8

Outcome = Literal["delivered", "retrying", "failed"]
SendResult = Exception | None


@dataclass
class DeliveryReport:
    """What one run did.

    `held_back`: claimed but given back unsent (the CRM looked unavailable, or the run's time
    budget ran out). `lease_lost`: sent, but the outcome was not recorded because the lease had
    run out and another run had claimed the callback.
    """

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    held_back: int = 0
    lease_lost: int = 0
    claimed: int = 0
    # A callback that had failed before went through: the CRM is back (see `deliver_due`).
    recovered: bool = False
    expedited: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    client: CallbackSender | None,
    *,
    limit: int = 50,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> DeliveryReport:
    """Send up to `limit` due callbacks, oldest first, and record each outcome."""
    report = DeliveryReport()
    if client is None:
        _log_no_url()
        return report
    token = uuid.uuid4()
    claimed_at = now()
    async with session_scope(factory) as session:
        callbacks = await crm_callbacks.claim_due(
            session,
            limit=limit,
            now=claimed_at,
            until=claimed_at + policy.lease,
            token=token,
            highlevel_only=client.scope == "highlevel",
        )
    report.claimed = len(callbacks)
    if not callbacks:
        return report
    run = _Run(factory, client, token, now, rng, policy, report)
    sent = await run.send_all(callbacks)
    unsent = [callback.id for callback in callbacks if callback.id not in sent]
    if unsent:
        report.held_back += len(unsent)
        async with session_scope(factory) as session:
            await crm_callbacks.release(session, unsent, token, at=now())
    if report.recovered:
        report.expedited = await _expedite(factory, now())
    return report


async def _expedite(factory: SessionFactory, now: datetime) -> int:
    """After an outage, send what waits out a backoff now instead of up to an hour later.

    Triggered only by a *retry* that succeeded, so one callback the CRM keeps answering 5xx to
    is brought forward once per recovery, not on every delivery.
    """
    async with session_scope(factory) as session:
        count = await crm_callbacks.expedite_retries(session, now=now)
    if count:
        log.info("crm.callback.crm_recovered", expedited=count)
    return count


async def drain(
    factory: SessionFactory,
    client: CallbackSender | None,
    *,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    limit: int = 50,
) -> DeliveryReport:
    """Deliver batch after batch while they come full and the CRM takes them (a backlog after
    an outage), within one lease's send budget; the next tick or wake-up carries on."""
    total = DeliveryReport()
    deadline = time.monotonic() + policy.send_budget_s
    while True:
        report = await deliver_due(factory, client, limit=limit, policy=policy)
        for name in ("delivered", "retrying", "failed", "held_back", "lease_lost", "claimed"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        more = (report.claimed == limit and report.held_back == 0) or report.recovered
        if not more or time.monotonic() > deadline:
            return total


@dataclass
class _Run:
    """One deliverer run over a leased batch; each outcome recorded as soon as it is known."""

    factory: SessionFactory
    client: CallbackSender
    token: uuid.UUID
    now: Callable[[], datetime]
    rng: random.Random | None
    policy: DeliveryPolicy
    report: DeliveryReport

    async def send_all(self, callbacks: Sequence[CrmCallback]) -> set[uuid.UUID]:
        """Send in order per location, locations side by side; returns the ids sent.

        The first sign that the CRM is unavailable stops the batch, and so does the end of the
        time budget: the rest are given back instead of each waiting for its own timeout.
        """
        sent: set[uuid.UUID] = set()
        gate = asyncio.Semaphore(SEND_CONCURRENCY)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.send_budget_s

        async def lane(group: list[CrmCallback]) -> None:
            for callback in group:
                async with gate:
                    if stop.is_set() or loop.time() > deadline:
                        return
                    sent.add(callback.id)
                    result = await _attempt(self.client, callback)
                if isinstance(result, CallbackUnavailableError):
                    stop.set()
                await self.record(callback, result)

        await asyncio.gather(*(lane(group) for group in _by_location(callbacks)))
        return sent

    async def record(self, callback: CrmCallback, result: SendResult) -> None:
        async with session_scope(self.factory) as session:
            outcome = await _settle(
                session, callback, result, self.token, self.now(), self.rng, self.policy
            )
        if outcome is None:
            self.report.lease_lost += 1
            return
        self.report.add(outcome)
        if outcome == "delivered" and callback.attempts > 0:
            self.report.recovered = True


def _by_location(callbacks: Sequence[CrmCallback]) -> list[list[CrmCallback]]:
    groups: dict[str, list[CrmCallback]] = {}
    for callback in callbacks:
        groups.setdefault(callback.location_id, []).append(callback)
    return list(groups.values())


async def wake_deliverer(job_app: App) -> None:
    """Queue a deliverer run now, after the caller committed the callbacks it wrote.

    The task's queueing lock keeps at most one run waiting, so a burst of jobs queues one.
    """
    try:
        await job_app.configure_task(names.DELIVER_CALLBACKS_TASK).defer_async(
            timestamp=int(time.time())
        )
    except AlreadyEnqueued:
        return
    except Exception as exc:
        # The caller's work is committed; failing its job for this would redo it. The periodic
        # run (every 5 s) sends the callbacks anyway.
        log.warning("crm.callback.wake_failed", error=f"{type(exc).__name__}: {exc}")


async def wake_deliverer_in(session: AsyncSession, job_app: App) -> None:
    """`wake_deliverer` inside the caller's transaction (commits or rolls back with it)."""
    connection = await session.connection()
    pg = await raw_connection(session)
    # A SAVEPOINT, so an already queued run (a unique violation) leaves the transaction usable.
    with contextlib.suppress(AlreadyEnqueued):
        async with connection.begin_nested():
            await job_app.configure_task(names.DELIVER_CALLBACKS_TASK, connection=pg).defer_async(
                timestamp=int(time.time())
            )


async def _attempt(client: CallbackSender, callback: CrmCallback) -> SendResult:
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
    token: uuid.UUID,
    now: datetime,
    rng: random.Random | None,
    policy: DeliveryPolicy,
) -> Outcome | None:
    """Record one attempt; None when the lease ran out and another deliverer took over."""
    attempts = callback.attempts + 1
    fields = {
        "callback_id": str(callback.id),
        "type": callback.type,
        "location_id": callback.location_id,
        "attempts": attempts,
    }
    if result is None:
        if not await crm_callbacks.mark_delivered(session, callback.id, token, at=now):
            _lease_lost(fields)
            return None
        log.info("crm.callback.delivered", **fields)
        metrics.CALLBACKS.labels(outcome="delivered").inc()
        return "delivered"
    reason = give_up_reason(callback, result, now, policy.give_up_after)
    if reason is not None:
        if not await crm_callbacks.mark_failed(session, callback.id, token, at=now, error=reason):
            _lease_lost(fields)
            return None
        log.warning("crm.callback.failed", error=reason, **fields)
        metrics.CALLBACKS.labels(outcome="failed").inc()
        return "failed"
    retry_after = result.retry_after_s if isinstance(result, TransientError) else None
    at = now + timedelta(seconds=backoff_delay(attempts, retry_after, rng))
    error = describe(result)
    if not await crm_callbacks.schedule_retry(session, callback.id, token, at=at, error=error):
        _lease_lost(fields)
        return None
    metrics.CALLBACKS.labels(outcome="retrying").inc()
    log.info("crm.callback.retry_scheduled", error=error, next_attempt_at=at.isoformat(), **fields)
    return "retrying"


def _lease_lost(fields: dict[str, Any]) -> None:
    # The send outlived the lease and another run claimed the callback: its outcome counts.
    log.warning("crm.callback.lease_lost", **fields)
