"""CRM callback delivery (docs/design.md §2.4): signed, retried with backoff, one sender each.

Everything goes over real HTTP to a CRM receiver that verifies signatures; time is driven through
the injectable `now`, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from structlog.testing import capture_logs

from app.db.session import SessionFactory, session_scope
from app.integrations.crm.callback_payloads import SyncedObject, SyncResultCallback
from app.integrations.crm.callbacks import (
    CallbackClient,
    CallbackRejectedError,
    CallbackUnavailableError,
    encode_body,
    parse_retry_after,
    rfc3339,
)
from app.models import CrmCallback
from app.models.states import CallbackState, SyncState
from app.repositories import crm_callbacks
from app.services import callback_delivery
from app.services.callback_delivery import (
    FIRST_RETRY_S,
    MAX_RETRY_S,
    backoff_delay,
    deliver_due,
)
from tests.fixtures.app import SIGNING_SECRET
from tests.fixtures.crm_receiver import CrmReceiver, crm_receiver  # noqa: F401
from tests.fixtures.live import free_port

LOCATION = "loc-callbacks"


def result(n: int = 1) -> SyncResultCallback:
    return SyncResultCallback(
        event_id=f"evt-{n}",
        object_=SyncedObject(kind="invoice", crm_id=f"inv-{n}"),
        state=SyncState.SYNCED,
        qbo_id="130",
        message=None,
        action=None,
        error_code=None,
        sync_log_id=n,
    )


class Clock:
    """The delivery's idea of now; starts just after the rows were written."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def callbacks_client(http: httpx.AsyncClient, crm_receiver: CrmReceiver) -> CallbackClient:  # noqa: F811
    return CallbackClient(http, url=crm_receiver.url, secret=SIGNING_SECRET)


async def enqueue(
    db: SessionFactory, location_id: str = LOCATION, payload: SyncResultCallback | None = None
) -> uuid.UUID:
    async with session_scope(db) as session:
        return await crm_callbacks.enqueue(session, location_id, payload or result())


async def load(db: SessionFactory, callback_id: uuid.UUID) -> CrmCallback:
    async with session_scope(db) as session:
        callback = await crm_callbacks.get(session, callback_id)
    assert callback is not None
    return callback


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def expected_body(callback: CrmCallback) -> bytes:
    envelope = {
        "id": str(callback.id),
        "type": callback.type,
        "occurred_at": rfc3339(callback.created_at),
        "location_id": callback.location_id,
        "data": callback.payload,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


class TestClient:
    async def test_body_is_compact_exact_and_signed(
        self,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        created = datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
        data = {"total": Decimal("19.90"), "big": Decimal("1E+2"), "name": "Café"}
        await callbacks_client.send("cb-1", "sync.result", LOCATION, data, created)
        assert crm_receiver.bad_signatures == []
        expected = (
            '{"id":"cb-1","type":"sync.result","occurred_at":"2025-03-01T12:30:05.123456Z",'
            f'"location_id":"{LOCATION}","data":{{"total":"19.90","big":"100","name":"Café"}}}}'
        )
        assert crm_receiver.raw == [expected.encode()]

    async def test_a_wrong_secret_is_refused_by_the_crm_and_retried(
        self,
        http: httpx.AsyncClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        """Failure mode CRM outage: a 401 during a secret rotation is not a permanent refusal."""
        client = CallbackClient(http, url=crm_receiver.url, secret="not-the-secret")
        with pytest.raises(CallbackUnavailableError) as caught:
            await client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))
        assert caught.value.status == 401
        assert [bad.reason for bad in crm_receiver.bad_signatures] == ["mismatch"]
        assert crm_receiver.received == []

    @pytest.mark.parametrize("status", [400, 410, 413, 422])
    async def test_a_verdict_on_the_payload_is_a_rejection(
        self,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
        status: int,
    ) -> None:
        crm_receiver.script([status])
        with pytest.raises(CallbackRejectedError) as caught:
            await callbacks_client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))
        assert caught.value.status == status
        assert f"scripted {status}" in str(caught.value)

    @pytest.mark.parametrize(
        "status", [401, 403, 404, 405, 500, 502, 503, 504, 408, 409, 425, 429, 302]
    )
    async def test_retryable_statuses_are_unavailable_with_retry_after(
        self,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
        status: int,
    ) -> None:
        """Failure mode CRM outage: 401/403/404 (a deploy, a secret rotation) and 5xx retry."""
        crm_receiver.script([status], retry_after=30)
        with pytest.raises(CallbackUnavailableError) as caught:
            await callbacks_client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))
        assert (caught.value.status, caught.value.retry_after_s) == (status, 30.0)

    async def test_connection_refused_is_unavailable(self, http: httpx.AsyncClient) -> None:
        url = f"http://127.0.0.1:{free_port()}/crm/callbacks"
        client = CallbackClient(http, url=url, secret=SIGNING_SECRET)
        with pytest.raises(CallbackUnavailableError, match="unreachable"):
            await client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))

    async def test_a_slow_crm_times_out_as_unavailable(
        self,
        http: httpx.AsyncClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        client = CallbackClient(http, url=crm_receiver.url, secret=SIGNING_SECRET, timeout_s=0.2)
        crm_receiver.pause()
        with pytest.raises(CallbackUnavailableError, match="in time"):
            await client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))

    async def test_the_receiver_deduplicates_on_id(
        self,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        created = datetime.now(UTC)
        for _ in range(2):
            await callbacks_client.send("cb-1", "sync.result", LOCATION, {"n": 1}, created)
        await callbacks_client.send("cb-2", "sync.result", LOCATION, {"n": 2}, created)
        assert [seen.callback_id for seen in crm_receiver.requests] == ["cb-1", "cb-1", "cb-2"]
        assert [body["id"] for body in crm_receiver.received] == ["cb-1", "cb-2"]

    def test_retry_after_takes_seconds_only(self) -> None:
        assert parse_retry_after("120") == 120.0
        assert parse_retry_after(" 1.5 ") == 1.5
        assert parse_retry_after(None) is None
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
        assert parse_retry_after("-3") is None
        assert parse_retry_after("nan") is None

    def test_naive_timestamps_are_taken_as_utc_and_odd_values_refused(self) -> None:
        body = encode_body("x", "t", "l", {}, datetime(2025, 1, 2, 3, 4, 5))
        assert b'"occurred_at":"2025-01-02T03:04:05Z"' in body
        with pytest.raises(ValueError, match="non-finite"):
            encode_body("x", "t", "l", {"v": Decimal("NaN")}, datetime.now(UTC))
        with pytest.raises(TypeError):
            encode_body("x", "t", "l", {"v": object()}, datetime.now(UTC))


class TestBackoff:
    def test_first_retry_is_about_five_seconds(self) -> None:
        rng = random.Random(1)
        delays = [backoff_delay(1, None, rng) for _ in range(500)]
        assert all(FIRST_RETRY_S / 2 <= delay <= FIRST_RETRY_S for delay in delays)

    def test_ceiling_doubles_per_attempt_with_jitter_below_it(self) -> None:
        rng = random.Random(2)
        for attempts, ceiling in [(2, 10.0), (3, 20.0), (6, 160.0)]:
            delays = [backoff_delay(attempts, None, rng) for _ in range(500)]
            assert max(delays) <= ceiling
            assert max(delays) > ceiling * 0.9
            assert min(delays) < ceiling / 2  # jittered, not fixed

    def test_capped_at_an_hour_however_many_attempts(self) -> None:
        rng = random.Random(3)
        assert all(backoff_delay(n, None, rng) <= MAX_RETRY_S for n in (12, 100, 10_000))

    def test_retry_after_is_a_floor_up_to_the_cap(self) -> None:
        rng = random.Random(4)
        assert backoff_delay(1, 120, rng) == 120
        assert backoff_delay(1, 0, rng) >= FIRST_RETRY_S / 2
        assert backoff_delay(1, 7 * 86_400, rng) == MAX_RETRY_S

    def test_deterministic_for_a_seeded_rng(self) -> None:
        first = [backoff_delay(n, None, random.Random(9)) for n in range(1, 10)]
        again = [backoff_delay(n, None, random.Random(9)) for n in range(1, 10)]
        assert first == again


class TestDelivery:
    async def test_delivered_signed_with_the_exact_body(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        clock = Clock()
        report = await deliver_due(db, callbacks_client, now=clock)
        assert (report.delivered, report.retrying, report.failed) == (1, 0, 0)
        assert crm_receiver.bad_signatures == []
        callback = await load(db, callback_id)
        assert crm_receiver.raw == [expected_body(callback)]
        assert callback.state is CallbackState.DELIVERED
        assert (callback.attempts, callback.delivered_at) == (1, clock.now)
        assert callback.last_error is None
        # Delivered callbacks are never sent again.
        clock.set(clock.now + timedelta(days=1))
        assert (await deliver_due(db, callbacks_client, now=clock)).attempted == 0
        assert len(crm_receiver.requests) == 1

    async def test_503_twice_then_200_is_delivered_on_the_third_attempt(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        crm_receiver.script([503, 503])
        clock = Clock()
        rng = random.Random(5)

        first = await deliver_due(db, callbacks_client, now=clock, rng=rng)
        assert (first.delivered, first.retrying) == (0, 1)
        after_first = await load(db, callback_id)
        wait = after_first.next_attempt_at - clock.now
        assert timedelta(seconds=2.5) <= wait <= timedelta(seconds=5)
        assert after_first.state is CallbackState.PENDING
        assert after_first.attempts == 1
        assert "503" in (after_first.last_error or "")

        # Not due yet: nothing is sent.
        clock.set(after_first.next_attempt_at - timedelta(milliseconds=1))
        assert (await deliver_due(db, callbacks_client, now=clock, rng=rng)).attempted == 0
        assert len(crm_receiver.requests) == 1

        clock.set(after_first.next_attempt_at)
        assert (await deliver_due(db, callbacks_client, now=clock, rng=rng)).retrying == 1
        after_second = await load(db, callback_id)
        wait = after_second.next_attempt_at - clock.now
        assert timedelta(seconds=2.5) <= wait <= timedelta(seconds=10)
        assert after_second.attempts == 2

        clock.set(after_second.next_attempt_at)
        assert (await deliver_due(db, callbacks_client, now=clock, rng=rng)).delivered == 1
        delivered = await load(db, callback_id)
        assert (delivered.state, delivered.attempts) == (CallbackState.DELIVERED, 3)
        assert [seen.status for seen in crm_receiver.requests] == [503, 503, 200]
        assert {seen.body for seen in crm_receiver.requests} == {expected_body(delivered)}
        assert len(crm_receiver.received) == 1

    async def test_400_fails_with_the_crm_reason(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        crm_receiver.script([400])
        clock = Clock()
        report = await deliver_due(db, callbacks_client, now=clock)
        assert (report.delivered, report.retrying, report.failed) == (0, 0, 1)
        callback = await load(db, callback_id)
        assert callback.state is CallbackState.FAILED
        assert callback.attempts == 1
        assert "HTTP 400" in (callback.last_error or "")
        assert "scripted 400" in (callback.last_error or "")
        clock.set(clock.now + timedelta(hours=2))
        assert (await deliver_due(db, callbacks_client, now=clock)).attempted == 0
        assert len(crm_receiver.requests) == 1

    async def test_429_retry_after_is_respected(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        crm_receiver.script([429], retry_after=120)
        clock = Clock()
        start = clock.now
        assert (await deliver_due(db, callbacks_client, now=clock)).retrying == 1
        callback = await load(db, callback_id)
        assert callback.next_attempt_at == start + timedelta(seconds=120)

        clock.set(start + timedelta(seconds=119))
        assert (await deliver_due(db, callbacks_client, now=clock)).attempted == 0
        clock.set(start + timedelta(seconds=120))
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 1
        assert [seen.status for seen in crm_receiver.requests] == [429, 200]

    async def test_a_failure_after_three_days_gives_up(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        created = (await load(db, callback_id)).created_at
        crm_receiver.script([503, 503])
        clock = Clock()

        clock.set(created + timedelta(days=3) - timedelta(seconds=1))
        assert (await deliver_due(db, callbacks_client, now=clock)).retrying == 1

        clock.set(created + timedelta(days=3, minutes=1))
        report = await deliver_due(db, callbacks_client, now=clock)
        assert (report.retrying, report.failed) == (0, 1)
        callback = await load(db, callback_id)
        assert callback.state is CallbackState.FAILED
        assert (callback.last_error or "").startswith("gave up after 3 days")
        assert "503" in (callback.last_error or "")
        assert len(crm_receiver.requests) == 2

    async def test_an_old_callback_still_gets_its_first_attempt(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        callback_id = await enqueue(db)
        clock = Clock()
        clock.set(clock.now + timedelta(days=5))
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 1
        assert (await load(db, callback_id)).state is CallbackState.DELIVERED

    async def test_without_a_url_callbacks_stay_pending(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        ids = [await enqueue(db), await enqueue(db)]
        clock = Clock()
        clock.set(clock.now + timedelta(days=4))
        callback_delivery._no_url_logged_at.clear()
        with capture_logs() as logs:
            report = await deliver_due(db, None, now=clock)
        assert report.attempted == 0
        assert [entry["event"] for entry in logs] == ["crm.callback.no_url"]
        for callback_id in ids:
            callback = await load(db, callback_id)
            assert (callback.state, callback.attempts) == (CallbackState.PENDING, 0)
        # Once the URL is set, the waiting callbacks go out.
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 2
        assert {body["id"] for body in crm_receiver.received} == {str(i) for i in ids}

    async def test_an_unavailable_crm_stops_the_batch(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        ids = [await enqueue(db) for _ in range(3)]
        crm_receiver.script([503])
        report = await deliver_due(db, callbacks_client, now=Clock())
        assert (report.retrying, report.held_back) == (1, 2)
        assert len(crm_receiver.requests) == 1
        held = [await load(db, callback_id) for callback_id in ids[1:]]
        assert all((c.state, c.attempts) == (CallbackState.PENDING, 0) for c in held)

    async def test_one_location_is_sent_in_creation_order(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        ids = [await enqueue(db, payload=result(n)) for n in range(6)]
        assert (await deliver_due(db, callbacks_client, now=Clock())).delivered == 6
        assert [body["id"] for body in crm_receiver.received] == [str(i) for i in ids]

    async def test_two_workers_split_due_callbacks_and_never_share_one(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        ids = [await enqueue(db, location_id=f"loc-{n}") for n in range(6)]
        clock = Clock()
        crm_receiver.pause()
        try:
            first = asyncio.create_task(deliver_due(db, callbacks_client, limit=3, now=clock))
            await wait_until(lambda: crm_receiver.in_flight == 3)
            second = asyncio.create_task(deliver_due(db, callbacks_client, now=clock))
            await wait_until(lambda: crm_receiver.in_flight == 6)
            # Every due callback is locked by a worker that is sending it: a third finds none.
            assert (await deliver_due(db, callbacks_client, now=clock)).attempted == 0
        finally:
            crm_receiver.resume()
        reports = await asyncio.gather(first, second)
        assert [report.delivered for report in reports] == [3, 3]
        assert Counter(seen.callback_id for seen in crm_receiver.requests) == Counter(
            str(callback_id) for callback_id in ids
        )

    async def test_concurrent_workers_send_each_callback_once(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        ids = [await enqueue(db, location_id=f"loc-{n % 4}") for n in range(40)]
        clock = Clock()

        async def worker() -> int:
            delivered = 0
            while (report := await deliver_due(db, callbacks_client, limit=7, now=clock)).attempted:
                delivered += report.delivered
            return delivered

        totals = await asyncio.gather(worker(), worker(), worker())
        assert sum(totals) == 40
        sent = Counter(seen.callback_id for seen in crm_receiver.requests)
        assert sent == Counter(str(callback_id) for callback_id in ids)
        assert len(crm_receiver.received) == 40

    async def test_counts_by_state_per_location(
        self,
        db: SessionFactory,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,  # noqa: F811
    ) -> None:
        for _ in range(3):
            await enqueue(db)
        crm_receiver.script([400])
        await deliver_due(db, callbacks_client, now=Clock())
        await enqueue(db, location_id="loc-other")
        async with session_scope(db) as session:
            mine = await crm_callbacks.count_by_state(session, LOCATION)
            other = await crm_callbacks.count_by_state(session, "loc-other")
            none = await crm_callbacks.count_by_state(session, "loc-unknown")
        assert mine == {"pending": 0, "delivered": 2, "failed": 1}
        assert other == {"pending": 1, "delivered": 0, "failed": 0}
        assert none == {"pending": 0, "delivered": 0, "failed": 0}
