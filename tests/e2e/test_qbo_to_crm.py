"""Q1, Q2, Q4 end to end: QBO user edits in the emulator -> webhooks (or CDC) -> CRM callbacks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from procrastinate import App
from sqlalchemy import func, select, update

from app.config import Settings
from app.db.session import SessionFactory
from app.jobs import app as job_app_module
from app.jobs import qbo_tasks
from app.jobs.retry import CappedJitterBackoff
from app.jobs.tasks import register_tasks
from app.models import Connection, CrmCallback, QboChange, ReviewRequest, SyncLogEntry
from app.models.states import CallbackState, Direction, InboundState
from app.sync.qbo_to_crm import changes as qbo_changes
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.fixtures.connect import browse, start_connect
from tests.fixtures.crm_receiver import CrmReceiver
from tests.fixtures.events import intuit_headers, invoice_event

pytestmark = pytest.mark.slow

TEST_POLL_TASK = "test.qbo.cdc.poll_all"


@pytest.fixture(autouse=True)
def poll_every_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test-only periodic poll firing every second (the real one fires every 10 s); the
    connection's interval (`settings.worker.cdc_interval_s`) still decides when it is due."""

    def register(app: App, retry: CappedJitterBackoff) -> None:
        register_tasks(app, retry)
        poll = app.task(name=TEST_POLL_TASK, pass_context=True, queueing_lock=TEST_POLL_TASK)(
            qbo_tasks.poll_all_task
        )
        app.periodic(cron="* * * * * *", periodic_id=TEST_POLL_TASK)(poll)

    monkeypatch.setattr(job_app_module, "register_tasks", register)


@pytest.fixture
def callback_url(crm_receiver: CrmReceiver) -> str:
    return crm_receiver.url


async def connect(base: str, **options: Any) -> str:
    link = await start_connect(base, **options)
    visited = await browse(link["connect_url"])
    assert "status=connected" in visited[-1], visited
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{base}/v1/connections/loc_1", headers={"Authorization": "Bearer test-api-key"}
        )
    realm: str = response.json()["realm_id"]
    return realm


async def emulator_config_patch(emulator: str, **changes: Any) -> None:
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.patch("/_emulator/config", json=changes)
    assert response.status_code == 200, response.text


async def webhooks_to(emulator: str, base: str, **changes: Any) -> None:
    await emulator_config_patch(
        emulator, webhook_url=f"{base}/v1/qbo/webhooks", webhook_batch_window_s=0.05, **changes
    )


async def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 20) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def one_contact_for(receiver: CrmReceiver, qbo_id: str) -> Callable[[], bool]:
    return lambda: len(contacts(receiver, qbo_id)) == 1


def callbacks_of(receiver: CrmReceiver, type_: str) -> list[dict[str, Any]]:
    return [c["data"] for c in receiver.received if c["type"] == type_]


def contacts(receiver: CrmReceiver, qbo_id: str) -> list[dict[str, Any]]:
    return [
        record
        for data in callbacks_of(receiver, "contact.upsert")
        if not data.get("import")
        for record in data["contacts"]
        if record["qbo_customer_id"] == qbo_id
    ]


async def settle_changes(db: SessionFactory, timeout_s: float = 20) -> list[QboChange]:
    """Wait until every stored change of a handled entity is finished (Items wait forever)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as session:
            rows = list(
                (
                    await session.execute(
                        select(QboChange).where(QboChange.entity.in_(list(qbo_changes.FLOWS)))
                    )
                ).scalars()
            )
        waiting = [r for r in rows if r.state in (InboundState.PENDING, InboundState.PROCESSING)]
        if not waiting:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"changes waiting: {[(r.id, r.state_reason) for r in waiting]}")
        await asyncio.sleep(0.1)


async def flush_and_settle(emulator: str, db: SessionFactory) -> list[QboChange]:
    async with httpx.AsyncClient(base_url=emulator) as http:
        # Answers once every queued webhook was delivered, so the changes are stored by now.
        await http.post("/_emulator/webhooks/flush")
    return await settle_changes(db)


async def callbacks_sent(db: SessionFactory, timeout_s: float = 20) -> None:
    """Wait until no callback waits in the outbox. The settled changes queued theirs in the same
    transaction, so a callback the CRM receiver has not got by now will never come."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(CrmCallback)
                .where(CrmCallback.state == CallbackState.PENDING)
            )
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting} callbacks still waiting to be sent")
        await asyncio.sleep(0.05)


async def qbo_call(emulator: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.request(method, f"/_emulator{path}", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


# --- Q1: customers ---------------------------------------------------------------------------


async def test_customer_created_updated_merged_and_deactivated_reaches_the_crm(
    live_service: tuple[str, Settings], emulator: str, crm_receiver: CrmReceiver
) -> None:
    base, _ = live_service
    realm = await connect(base)
    await webhooks_to(emulator, base)
    qbo = Qbo(emulator, realm)
    ann = await qbo.create(
        "Customer", {"DisplayName": "Ann Lee", "PrimaryEmailAddr": {"Address": "ann@example.com"}}
    )
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 1, "Ann created")
    assert contacts(crm_receiver, ann["Id"])[0]["email"] == "ann@example.com"

    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Customer/{ann['Id']}",
        {"GivenName": "Annie"},
    )
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 2, "Ann updated")
    assert contacts(crm_receiver, ann["Id"])[-1]["first_name"] == "Annie"

    bob = await qbo.create("Customer", {"DisplayName": "Bob Lee"})
    await wait_for(lambda: len(contacts(crm_receiver, bob["Id"])) == 1, "Bob created")
    await qbo_call(
        emulator,
        "POST",
        f"/companies/{realm}/entities/Customer/{bob['Id']}/merge",
        {"into": ann["Id"]},
    )
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 3, "merge reported")
    assert contacts(crm_receiver, ann["Id"])[-1]["merged_from"] == [bob["Id"]]

    await qbo_call(emulator, "DELETE", f"/companies/{realm}/entities/Customer/{ann['Id']}")
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 4, "Ann deactivated")
    assert contacts(crm_receiver, ann["Id"])[-1]["active"] is False


async def test_duplicate_and_reordered_webhooks_change_nothing(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await connect(base)
    await webhooks_to(emulator, base)
    qbo = Qbo(emulator, realm)
    ann = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 1, "Ann created")
    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Customer/{ann['Id']}",
        {"GivenName": "Annie"},
    )
    await wait_for(lambda: len(contacts(crm_receiver, ann["Id"])) == 2, "Ann updated")
    await flush_and_settle(emulator, db)

    # Intuit retries and reorders: the same notification again, and older ones after newer.
    now = datetime.now(UTC)
    entities = [
        {"name": "Customer", "id": ann["Id"], "operation": "Update", "lastUpdated": stamp}
        for stamp in (
            now.isoformat(),
            (now - timedelta(minutes=5)).isoformat(),
            (now - timedelta(minutes=9)).isoformat(),
        )
    ]
    entities.append({**entities[1], "operation": "Create"})
    for batch in (entities, list(reversed(entities)), entities):
        body = json.dumps(
            {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": batch}}]}
        ).encode()
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{base}/v1/qbo/webhooks", content=body, headers=intuit_headers(body)
            )
        assert response.status_code == 200
    rows = await settle_changes(db)
    assert all(r.state is InboundState.DONE for r in rows), [r.state_reason for r in rows]
    await callbacks_sent(db)
    assert len(contacts(crm_receiver, ann["Id"])) == 2


async def test_many_changes_of_a_realm_are_read_with_one_query(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await connect(base)
    qbo = Qbo(emulator, realm)
    # The first CDC poll (made at connect) must not count: wait for it, then clear the log.
    await wait_for_watermark(db)
    await emulator_config_patch(
        emulator, webhook_url=f"{base}/v1/qbo/webhooks", webhook_batch_window_s=1.0
    )
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.delete(f"/_emulator/companies/{realm}/requests")
    created = [await qbo.create("Customer", {"DisplayName": f"Person {n}"}) for n in range(6)]
    for customer in created:
        await wait_for(one_contact_for(crm_receiver, customer["Id"]), "contacts")
    log = await qbo.requests()
    assert log["by_method_path"] == {"POST /query": 1}, log["by_method_path"]


async def wait_for_watermark(db: SessionFactory, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as session:
            marks = (await session.execute(select(Connection.cdc_watermark))).scalars().all()
        if marks and all(marks):
            return
        if time.monotonic() > deadline:
            raise AssertionError("the first CDC poll did not happen")
        await asyncio.sleep(0.1)


# --- Q4: no echo of our own writes -----------------------------------------------------------


async def test_our_own_invoice_and_customer_writes_produce_no_echo(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    await connect(base)
    await webhooks_to(emulator, base)
    event = invoice_event(created_at="2099-01-01T00:00:00Z")
    assert (await post(base, event)).status_code == 202
    await settle(db)
    updated = {**event, "id": "evt_inv_2", "type": "invoice.updated"}
    updated["data"] = {**event["data"], "updated_at": "2099-01-02T00:00:00Z", "number": "INV-9"}
    assert (await post(base, updated)).status_code == 202
    await settle(db)
    rows = await flush_and_settle(emulator, db)
    assert {r.entity for r in rows} >= {"Customer", "Invoice"}
    assert all(r.state is InboundState.DONE for r in rows), [r.state_reason for r in rows]
    types = {c["type"] for c in crm_receiver.received}
    assert "contact.upsert" not in types
    assert "invoice.import" not in types


# --- CDC backstop ----------------------------------------------------------------------------

CDC_INTERVAL_S = 4.0


async def test_with_every_webhook_lost_the_cdc_poll_delivers_within_one_interval(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, settings = live_service
    # The running service reads its interval from these settings at every poll.
    settings.worker.cdc_interval_s = CDC_INTERVAL_S
    realm = await connect(base)
    await webhooks_to(emulator, base, webhook_drop_rate=1.0)
    await wait_for_watermark(db)
    qbo = Qbo(emulator, realm)
    ann = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
    # Next poll within one interval (+1 s of periodic granularity), then processing and delivery.
    elapsed = await wait_for(
        lambda: len(contacts(crm_receiver, ann["Id"])) == 1, "CDC delivery", CDC_INTERVAL_S + 3
    )
    assert elapsed < CDC_INTERVAL_S + 3
    async with httpx.AsyncClient(base_url=emulator) as http:
        stats = (await http.get("/_emulator/webhooks")).json()["stats"]
    assert stats.get("dropped", 0) >= 1
    assert not stats.get("delivered")
    async with db() as session:
        sources = (await session.execute(select(QboChange.source))).scalars().all()
    assert set(sources) == {"cdc"}


# --- Q2: review requests ---------------------------------------------------------------------


async def paid_invoice(qbo: Qbo, customer_id: str, amount: int = 100) -> dict[str, Any]:
    items = await qbo.all("Item")
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer_id},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": amount,
                    "SalesItemLineDetail": {"ItemRef": {"value": items[0]["Id"]}},
                }
            ],
        },
    )
    await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer_id},
            "TotalAmt": amount,
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    return invoice


def review_requests(receiver: CrmReceiver) -> list[dict[str, Any]]:
    return callbacks_of(receiver, "review_request.send")


async def decisions(db: SessionFactory) -> dict[str, str]:
    async with db() as session:
        rows = (await session.execute(select(ReviewRequest))).scalars().all()
    return {row.qbo_customer_id: row.decision for row in rows}


async def review_log(db: SessionFactory) -> list[SyncLogEntry]:
    async with db() as session:
        result = await session.execute(
            select(SyncLogEntry).where(
                SyncLogEntry.kind == "review_request",
                SyncLogEntry.direction == Direction.QBO_TO_CRM,
            )
        )
        return list(result.scalars())


async def test_review_request_once_for_the_first_paid_invoice_only(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await connect(base, review_automation=True)
    await webhooks_to(emulator, base)
    qbo = Qbo(emulator, realm)
    ann = await qbo.create(
        "Customer", {"DisplayName": "Ann Lee", "PrimaryEmailAddr": {"Address": "ann@example.com"}}
    )
    first = await paid_invoice(qbo, ann["Id"])
    await wait_for(lambda: len(review_requests(crm_receiver)) == 1, "review request")
    [request] = review_requests(crm_receiver)
    assert request["qbo_customer_id"] == ann["Id"]
    assert request["qbo_invoice_id"] == first["Id"]
    assert request["email"] == "ann@example.com"
    assert request["paid_date"]

    await paid_invoice(qbo, ann["Id"], amount=50)
    await flush_and_settle(emulator, db)
    await callbacks_sent(db)
    assert len(review_requests(crm_receiver)) == 1
    assert await decisions(db) == {ann["Id"]: "sent"}
    [entry] = await review_log(db)
    assert entry.details["decision"] == "sent"


async def test_no_review_request_with_the_toggle_off(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await connect(base, review_automation=False)
    await webhooks_to(emulator, base)
    qbo = Qbo(emulator, realm)
    ann = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
    await paid_invoice(qbo, ann["Id"])
    await flush_and_settle(emulator, db)
    await wait_for(lambda: bool(contacts(crm_receiver, ann["Id"])), "contact")
    await callbacks_sent(db)
    assert review_requests(crm_receiver) == []
    assert await decisions(db) == {ann["Id"]: "toggle_off"}
    [entry] = await review_log(db)
    assert entry.message
    assert "off" in entry.message


async def set_connected_at(db: SessionFactory, at: datetime) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Connection).values(connected_at=at))


async def test_no_review_request_for_invoices_paid_before_connecting(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await connect(base, review_automation=True)
    await wait_for_watermark(db)  # the first CDC poll is done; the next is minutes away
    qbo = Qbo(emulator, realm)
    # History: Bob's invoice is paid while no webhook reaches the service, then "connect".
    bob = await qbo.create("Customer", {"DisplayName": "Bob Lee"})
    await paid_invoice(qbo, bob["Id"])
    await asyncio.sleep(1.1)
    await set_connected_at(db, datetime.now(UTC))
    await webhooks_to(emulator, base)
    # Bob pays a second invoice after connecting: he already had a paid invoice then.
    await paid_invoice(qbo, bob["Id"], amount=30)
    # Cid's only paid invoice is edited after connecting; it was paid before.
    cid = await qbo.create("Customer", {"DisplayName": "Cid Lee"})
    await emulator_config_patch(emulator, webhook_url=None)
    cid_invoice = await paid_invoice(qbo, cid["Id"])
    await asyncio.sleep(1.1)
    await set_connected_at(db, datetime.now(UTC))
    await webhooks_to(emulator, base)
    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Invoice/{cid_invoice['Id']}",
        {"PrivateNote": "edited after connecting"},
    )
    await flush_and_settle(emulator, db)
    await callbacks_sent(db)
    assert review_requests(crm_receiver) == []
    assert await decisions(db) == {
        bob["Id"]: "had_paid_invoice_before",
        cid["Id"]: "paid_before_connecting",
    }
    assert len(await review_log(db)) == 2
