"""Failure mode CRM outage: the callback outbox survives a short CRM outage and a slow CRM.

Real PostgreSQL, the CRM receiver over real HTTP, and a raw asyncio server that closes a reused
keep-alive connection the moment a request arrives on it. Time is driven through `now`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text, update

from app.db.session import SessionFactory, session_scope
from app.integrations.crm.callback_payloads import SyncedObject, SyncResultCallback
from app.integrations.crm.callbacks import CallbackClient
from app.models import Connection, CrmCallback
from app.models.states import CallbackState, ConnectionStatus, SyncState
from app.repositories import crm_callbacks
from app.services.callback_delivery import DeliveryPolicy, deliver_due
from tests.fixtures.app import API_KEY, SIGNING_SECRET
from tests.fixtures.crm_receiver import CrmReceiver

LOCATION = "loc-outbox"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, span: timedelta) -> None:
        self.now += span


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def callbacks_client(http: httpx.AsyncClient, crm_receiver: CrmReceiver) -> CallbackClient:
    return CallbackClient(http, url=crm_receiver.url, secret=SIGNING_SECRET)


def result(n: int) -> SyncResultCallback:
    return SyncResultCallback(
        event_id=f"evt-{n}",
        object_=SyncedObject(kind="invoice", crm_id=f"inv-{n}"),
        state=SyncState.SYNCED,
        qbo_id=None,
        message=None,
        action=None,
        error_code=None,
        sync_log_id=n,
    )


async def enqueue(db: SessionFactory, n: int = 0) -> uuid.UUID:
    async with session_scope(db) as session:
        return await crm_callbacks.enqueue(session, LOCATION, result(n))


async def load(db: SessionFactory, callback_id: uuid.UUID) -> CrmCallback:
    async with session_scope(db) as session:
        callback = await crm_callbacks.get(session, callback_id)
    assert callback is not None
    return callback


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def idle_in_transaction(db: SessionFactory) -> list[str]:
    """Other sessions of this database sitting inside an open transaction, with their query."""
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        )
        return [row.query for row in rows]


class TestOutage:
    async def test_401_403_404_during_a_deploy_are_retried_then_delivered(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: a secret rotation or a deploy is not a permanent refusal."""
        callback_id = await enqueue(db)
        crm_receiver.script([401, 403, 404])
        clock = Clock()
        for status in (401, 403, 404):
            report = await deliver_due(db, callbacks_client, now=clock)
            assert (report.retrying, report.failed) == (1, 0), status
            callback = await load(db, callback_id)
            assert callback.state is CallbackState.PENDING
            assert f"HTTP {status}" in (callback.last_error or "")
            clock.now = callback.next_attempt_at
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 1
        assert [seen.status for seen in crm_receiver.requests] == [401, 403, 404, 200]

    async def test_the_give_up_time_is_configurable_and_failure_is_recorded(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: after the give-up time a callback is `failed`, visibly."""
        policy = DeliveryPolicy(give_up_after=timedelta(hours=1))
        callback_id = await enqueue(db)
        created = (await load(db, callback_id)).created_at
        crm_receiver.script([503, 503])
        clock = Clock()
        clock.now = created + timedelta(minutes=59)
        assert (await deliver_due(db, callbacks_client, now=clock, policy=policy)).retrying == 1
        clock.now = created + timedelta(hours=1, minutes=1)
        assert (await deliver_due(db, callbacks_client, now=clock, policy=policy)).failed == 1
        callback = await load(db, callback_id)
        assert callback.state is CallbackState.FAILED
        assert callback.failed_at == clock.now
        assert (callback.last_error or "").startswith("gave up after 1 hour: CRM answered HTTP 503")

    async def test_once_a_retry_goes_through_the_whole_backlog_is_sent_at_once(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: when the CRM is back, callbacks flow again at once, not
        after each one's backoff (up to an hour after a long outage)."""
        ids = [await enqueue(db, n) for n in range(4)]
        clock = Clock()
        crm_receiver.outage()
        # A long outage: every callback fails again each time it comes due, 9 times or more.
        for _ in range(100):
            rows = [await load(db, i) for i in ids]
            if min(row.attempts for row in rows) >= 9:
                break
            clock.now = max(clock.now, min(row.next_attempt_at for row in rows))
            await deliver_due(db, callbacks_client, now=clock)
        waits = [(await load(db, i)).next_attempt_at - clock.now for i in ids]
        assert sum(wait > timedelta(minutes=2) for wait in waits) >= 2, waits
        crm_receiver.recover()
        first_due = min([(await load(db, i)).next_attempt_at for i in ids])
        clock.now = max(clock.now, first_due)
        report = await deliver_due(db, callbacks_client, now=clock)
        assert report.delivered >= 1
        # Everything else is due now: the next run (the task drains at once) sends it all.
        rest = await deliver_due(db, callbacks_client, now=clock)
        assert rest.delivered == 4 - report.delivered
        assert {body["data"]["sync_log_id"] for body in crm_receiver.received} == {0, 1, 2, 3}


class TestLease:
    async def test_no_transaction_stays_open_while_the_crm_holds_the_request(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: no database transaction is held across the HTTP call."""
        callback_id = await enqueue(db)
        crm_receiver.pause()
        try:
            run = asyncio.create_task(deliver_due(db, callbacks_client, now=Clock()))
            await wait_until(lambda: crm_receiver.in_flight == 1)
            assert await idle_in_transaction(db) == []
            # The row is not locked: another session may lock it at once (NOWAIT).
            async with session_scope(db) as session:
                await session.execute(
                    text("SELECT id FROM crm_callbacks WHERE id = :id FOR UPDATE NOWAIT"),
                    {"id": callback_id},
                )
        finally:
            crm_receiver.resume()
        assert (await run).delivered == 1

    async def test_a_deliverer_killed_mid_send_leaves_the_callback_due_after_the_lease(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: a crash mid-send makes the callback due again after the
        lease, and not before."""
        callback_id = await enqueue(db)
        clock = Clock()
        crm_receiver.pause()
        try:
            run = asyncio.create_task(deliver_due(db, callbacks_client, now=clock))
            await wait_until(lambda: crm_receiver.in_flight == 1)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
        finally:
            crm_receiver.resume()
        # While the dead run's lease (120 s by default) holds, nobody else sends it.
        clock.advance(timedelta(seconds=119))
        assert (await deliver_due(db, callbacks_client, now=clock)).attempted == 0
        clock.advance(timedelta(seconds=1))
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 1
        callback = await load(db, callback_id)
        assert (callback.state, callback.attempts, callback.claim_token) == (
            CallbackState.DELIVERED,
            1,
            None,
        )

    async def test_a_run_gives_back_what_its_time_budget_did_not_reach(
        self, db: SessionFactory, callbacks_client: CallbackClient, crm_receiver: CrmReceiver
    ) -> None:
        """Failure mode CRM outage: a slow CRM never makes a send outlive its lease."""
        policy = DeliveryPolicy(lease=timedelta(seconds=1), send_timeout_s=5.0)  # budget 0.5 s
        ids = [await enqueue(db, n) for n in range(3)]
        clock = Clock()
        crm_receiver.pause()
        try:
            run = asyncio.create_task(deliver_due(db, callbacks_client, now=clock, policy=policy))
            await wait_until(lambda: crm_receiver.in_flight == 1)
            await asyncio.sleep(0.6)  # the CRM is slower than the run's budget
        finally:
            crm_receiver.resume()
        report = await run
        assert (report.delivered, report.held_back) == (1, 2)
        # Given back unsent: due now, no attempt counted, no claim left.
        for callback_id in ids[1:]:
            callback = await load(db, callback_id)
            assert (callback.attempts, callback.claim_token) == (0, None)
            assert callback.next_attempt_at <= clock.now
        assert (await deliver_due(db, callbacks_client, now=clock, policy=policy)).delivered == 2
        assert [body["data"]["sync_log_id"] for body in crm_receiver.received] == [0, 1, 2]


@dataclass
class ClosingKeepAliveServer:
    """Answers the first request of each connection and keeps it open; a later request on the
    same connection finds it closed, as when the CRM's idle timeout fires while we write."""

    connections: int = 0
    answered: list[int] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            requests = 0
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                requests += 1
                if requests > 1:
                    return  # closed without an answer, like an idle keep-alive timeout
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.answered.append(number)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@pytest.fixture
async def closing_server() -> AsyncIterator[ClosingKeepAliveServer]:
    state = ClosingKeepAliveServer()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/crm/callbacks"
    async with server:
        yield state
        server.close()


class TestStaleKeepAlive:
    async def test_a_closed_keep_alive_connection_is_retried_at_once_on_a_fresh_one(
        self, http: httpx.AsyncClient, closing_server: ClosingKeepAliveServer
    ) -> None:
        """Failure mode CRM outage: ReadError('') on a reused connection is retried at once."""
        client = CallbackClient(http, url=closing_server.url, secret=SIGNING_SECRET)
        await client.send("cb-1", "sync.result", LOCATION, {}, datetime.now(UTC))
        # Returns without raising: the retry happened within this one send, not in a later run.
        await client.send("cb-2", "sync.result", LOCATION, {}, datetime.now(UTC))
        # cb-2 went out on the reused connection 1 (closed), then on a fresh connection 2.
        assert closing_server.answered == [1, 2]

    async def test_the_outbox_delivers_both_in_one_run_instead_of_backing_off(
        self, db: SessionFactory, http: httpx.AsyncClient, closing_server: ClosingKeepAliveServer
    ) -> None:
        """Failure mode CRM outage: no backoff for a keep-alive race the CRM never saw."""
        client = CallbackClient(http, url=closing_server.url, secret=SIGNING_SECRET)
        ids = [await enqueue(db, n) for n in range(2)]
        report = await deliver_due(db, client, now=Clock())
        assert (report.delivered, report.retrying) == (2, 0)
        assert [(await load(db, i)).attempts for i in ids] == [1, 1]


@pytest.fixture
async def connected(db: SessionFactory) -> str:
    async with session_scope(db) as session:
        session.add(
            Connection(
                id=uuid.uuid4(),
                location_id=LOCATION,
                realm_id="9130000000000077",
                status=ConnectionStatus.ACTIVE,
                company_name="Outbox Bakery",
            )
        )
    return LOCATION


async def fail_all(db: SessionFactory, client: CallbackClient, receiver: CrmReceiver) -> None:
    """Every pending callback ends `failed` (the CRM refuses each payload once)."""
    async with session_scope(db) as session:
        pending = await crm_callbacks.count_by_state(session, LOCATION)
    receiver.script([422] * pending["pending"])
    report = await deliver_due(db, client, now=Clock())
    assert report.failed == pending["pending"]


class TestResend:
    async def test_failed_callbacks_are_listed_and_resent_through_the_api(
        self,
        db: SessionFactory,
        client: httpx.AsyncClient,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,
        connected: str,
    ) -> None:
        """Failure mode CRM outage: failed callbacks are visible and sent again on request."""
        old, recent = await enqueue(db, 0), await enqueue(db, 1)
        async with session_scope(db) as session:
            await session.execute(
                update(CrmCallback)
                .where(CrmCallback.id == old)
                .values(created_at=datetime.now(UTC) - timedelta(days=4))
            )
        await fail_all(db, callbacks_client, crm_receiver)

        listed = await client.get(
            f"/v1/connections/{LOCATION}/callbacks?state=failed", headers=AUTH
        )
        assert listed.status_code == 200
        assert {item["id"] for item in listed.json()["callbacks"]} == {str(old), str(recent)}
        assert all("HTTP 422" in item["last_error"] for item in listed.json()["callbacks"])

        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        path = f"/v1/connections/{LOCATION}/callbacks/resend"
        answer = await client.post(path, params={"since": since}, headers=AUTH)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"location_id": LOCATION, "resent": 1, "status": "queued"}
        resent, left = await load(db, recent), await load(db, old)
        assert (resent.state, resent.attempts, resent.resent_at is not None) == (
            CallbackState.PENDING,
            0,
            True,
        )
        assert left.state is CallbackState.FAILED
        # The deliverer was woken in the same transaction.
        async with session_scope(db) as session:
            queued = await session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'crm.callbacks.deliver' AND status = 'todo'"
                )
            )
        assert queued == 1
        assert (await deliver_due(db, callbacks_client, now=Clock())).delivered == 1

        # Without `since`: every failed one; a second wake-up finds one already queued.
        again = await client.post(path, headers=AUTH)
        assert again.json()["resent"] == 1
        assert (await deliver_due(db, callbacks_client, now=Clock())).delivered == 1
        assert (await client.post(path, headers=AUTH)).json()["resent"] == 0

    async def test_the_routes_need_the_api_key_and_a_known_location(
        self, db: SessionFactory, client: httpx.AsyncClient, connected: str
    ) -> None:
        """Failure mode CRM outage: resend is an operator action behind CRM_API_KEY."""
        path = f"/v1/connections/{LOCATION}/callbacks/resend"
        assert (await client.post(path)).status_code == 401
        unknown = await client.post("/v1/connections/loc-nobody/callbacks/resend", headers=AUTH)
        assert unknown.status_code == 404
        bad_since = await client.post(path, params={"since": "yesterday"}, headers=AUTH)
        assert bad_since.status_code == 422

    async def test_a_resent_callback_gets_a_fresh_give_up_window(
        self,
        db: SessionFactory,
        client: httpx.AsyncClient,
        callbacks_client: CallbackClient,
        crm_receiver: CrmReceiver,
        connected: str,
    ) -> None:
        """Failure mode CRM outage: a resend after a long outage is retried, not failed at once."""
        callback_id = await enqueue(db)
        clock = Clock()
        clock.advance(timedelta(days=4))
        crm_receiver.script([503])
        assert (await deliver_due(db, callbacks_client, now=clock)).failed == 1
        resend = f"/v1/connections/{LOCATION}/callbacks/resend"
        assert (await client.post(resend, headers=AUTH)).json()["resent"] == 1
        crm_receiver.script([503])
        clock = Clock()  # the resend happened "now"
        assert (await deliver_due(db, callbacks_client, now=clock)).retrying == 1
        callback = await load(db, callback_id)
        assert (callback.state, callback.attempts) == (CallbackState.PENDING, 1)
        clock.now = callback.next_attempt_at
        assert (await deliver_due(db, callbacks_client, now=clock)).delivered == 1
