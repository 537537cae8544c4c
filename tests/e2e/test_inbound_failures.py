"""Failure modes of inbound work end to end: a poison event, entities without a flow, our own
customer after a rolled-back job, and a reconnect with many waiting events.

The service runs over real HTTP with its worker, against the QBO emulator and a CRM receiver, with
tiny retry settings so "after the last retry" comes within a second or two.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.config import Settings
from app.db.provision import Database
from app.db.session import SessionFactory
from app.jobs.app import build_job_app
from app.main import create_app
from app.models import CrmEvent, QboChange, SyncLogEntry
from app.models.states import InboundState, SyncState
from app.services import job_names as names
from tests.e2e.sync_helpers import Qbo, callbacks, post
from tests.fixtures.connect import AUTH, describe, start_connect
from tests.fixtures.crm_receiver import CrmReceiver
from tests.fixtures.events import CONTACT, intuit_headers, invoice_event
from tests.fixtures.live import free_port, live_settings, serve

pytestmark = pytest.mark.slow

# Three runs in all: attempts 0 and 1 are retried, attempt 2 is the last.
MAX_ATTEMPTS = 2


@pytest.fixture
def live_service(
    database_url: str,
    db: SessionFactory,
    emulator: str,
    tmp_path: Path,
    crm_receiver: CrmReceiver,
) -> Iterator[tuple[str, Settings]]:
    """The service with its worker and retries measured in tenths of a second."""
    port = free_port()
    settings = live_settings(database_url, tmp_path / "data", emulator, port)
    settings.crm.callback_url = crm_receiver.url
    settings.worker.poll_interval_s = 0.1
    settings.worker.retry_max_attempts = MAX_ATTEMPTS
    settings.worker.retry_base_s = 0.1
    settings.worker.retry_cap_s = 0.3
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, port) as url:
        yield url, settings


async def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """Poll an async or sync check until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def event_rows(db: SessionFactory) -> list[CrmEvent]:
    async with db() as session:
        return list((await session.execute(select(CrmEvent).order_by(CrmEvent.id))).scalars())


async def finished(db: SessionFactory, event_id: str) -> CrmEvent | None:
    for row in await event_rows(db):
        if row.event_id == event_id and row.state not in (
            InboundState.PENDING,
            InboundState.PROCESSING,
        ):
            return row
    return None


async def failed_entries(db: SessionFactory, crm_id: str) -> list[SyncLogEntry]:
    async with db() as session:
        result = await session.execute(
            select(SyncLogEntry)
            .where(SyncLogEntry.crm_id == crm_id, SyncLogEntry.state == SyncState.FAILED)
            .order_by(SyncLogEntry.id)
        )
        return list(result.scalars())


async def job_attempts(db: SessionFactory, event_row_id: int) -> list[tuple[str, int]]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = :task "
                "AND (args->>'event_row_id')::bigint = :row ORDER BY id"
            ),
            {"task": names.CRM_EVENT_TASK, "row": event_row_id},
        )
        return [(str(status), int(attempts)) for status, attempts in rows]


async def jobs_are(db: SessionFactory, event_row_id: int, expected: list[tuple[str, int]]) -> bool:
    return await job_attempts(db, event_row_id) == expected


def new_invoice(event_id: str, invoice_id: str, contact: dict[str, Any]) -> dict[str, Any]:
    """An invoice made after connecting (earlier ones are skipped), for `contact`."""
    event = invoice_event(event_id, id=invoice_id, created_at="2099-01-01T00:00:00Z")
    event["data"]["contact"] = contact
    event["data"]["number"] = f"N-{invoice_id}"
    return copy.deepcopy(event)


async def retry_entry(base: str, entry_id: int) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections/loc_1/sync-log/{entry_id}/retry", headers=AUTH
        )
    assert response.status_code == 202, response.text


# --- A poison event ends failed, visibly, and Retry runs it again ----------------------------

POISON = "contact_poison"


async def test_poison_event_ends_failed_with_reason_callback_and_retry(
    live_service: tuple[str, Settings],
    connected_realm: str,
    emulator: str,
    db: SessionFactory,
    crm_receiver: CrmReceiver,
) -> None:
    """Failure mode "poison event" (no event stays pending forever): a failure that is not a
    QuickBooks error, here the database refusing to store the contact's link (standing in for any
    bug: a KeyError in a mapping, a query the builder refuses), is retried like an outage and,
    after the last of QBS_WORKER_RETRY_MAX_ATTEMPTS retries, ends as a failed sync-log entry with
    a readable reason and a sync.result callback; Retry runs it again once the cause is gone."""
    base, _ = live_service
    async with db() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.crm_id = 'contact_poison' THEN RAISE EXCEPTION 'poisoned link'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON entity_links "
                "FOR EACH ROW EXECUTE FUNCTION poison()"
            )
        )
    try:
        contact = {**CONTACT, "id": POISON, "email": "poison@example.com"}
        assert (
            await post(base, new_invoice("evt_poison", "inv_poison", contact))
        ).status_code == 202
        row = await wait_for(lambda: finished(db, "evt_poison"), "the poison event to end")
    finally:
        async with db() as session, session.begin():
            await session.execute(text("DROP TRIGGER IF EXISTS poison ON entity_links"))
            await session.execute(text("DROP FUNCTION IF EXISTS poison()"))

    assert row.state is InboundState.FAILED, (row.state, row.state_reason)
    assert "poisoned link" in (row.state_reason or "")
    # One job, run 1 + MAX_ATTEMPTS times (procrastinate counts each run); it ends succeeded:
    # the outcome is recorded, nothing is left to retry.
    expected = [("succeeded", MAX_ATTEMPTS + 1)]
    await wait_for(lambda: jobs_are(db, row.id, expected), f"the job to end as {expected}")
    [entry] = await failed_entries(db, "inv_poison")
    assert entry.message is not None
    assert entry.message.startswith("This service could not process the event and the retries")
    assert "poisoned link" in entry.message
    assert entry.action is not None
    assert "Retry" in entry.action
    results = [c.payload for c in await callbacks(db)]
    [result] = [r for r in results if r["event_id"] == "evt_poison"]
    assert result["state"] == "failed"
    assert result["sync_log_id"] == entry.id
    assert "poisoned link" in result["message"]

    # The cause is gone (the trigger dropped): Retry syncs it, with the one customer made before.
    await retry_entry(base, entry.id)
    row = await wait_for(lambda: finished(db, "evt_poison"), "the retried event to end")
    assert row.state is InboundState.DONE, row.state_reason
    customers = [
        c
        for c in await Qbo(emulator, connected_realm).all("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == "poison@example.com"
    ]
    assert len(customers) == 1


async def test_stored_event_that_fails_todays_checks_fails_at_once_with_the_field(
    live_service: tuple[str, Settings],
    connected_realm: str,
    database_url: str,
    db: SessionFactory,
) -> None:
    """Failure mode "poison event": an event stored by a version with looser checks (a control
    character in the email, which the query builder refuses) fails on its first run with the
    field path; it is not retried for hours first."""
    base, settings = live_service
    assert (await post(base, new_invoice("evt_ok", "inv_ok", dict(CONTACT)))).status_code == 202
    row = await wait_for(lambda: finished(db, "evt_ok"), "the valid event")
    # Stored as an older version accepted it: the same event with a control character, queued
    # again (as a reconnect's re-queue would).
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE crm_events SET state = 'pending', payload = jsonb_set(payload, "
                "'{data,contact,email}', to_jsonb(CAST(:email AS text))) WHERE id = :row"
            ),
            {"email": "ann\x01@example.com", "row": row.id},
        )
    job_app = build_job_app(database_url, settings.worker)
    async with job_app.open_async():
        await job_app.configure_task(
            names.CRM_EVENT_TASK, lock=names.crm_object_lock("loc_1", "invoice", "inv_ok")
        ).defer_async(event_row_id=row.id)
    row = await wait_for(lambda: finished(db, "evt_ok"), "the stored event to end")
    assert row.state is InboundState.FAILED
    assert "data.contact.email" in (row.state_reason or "")
    assert "control characters" in (row.state_reason or "")
    expected = [("succeeded", 1), ("succeeded", 1)]  # one run each: no retry
    await wait_for(lambda: jobs_are(db, row.id, expected), f"the jobs to end as {expected}")


# --- QBO changes of entities without a flow ----------------------------------------------------


async def test_item_webhook_change_is_skipped_with_the_reason(
    live_service: tuple[str, Settings], connected_realm: str, db: SessionFactory
) -> None:
    """Failure mode "poison event": an Item change (the README asks operators to subscribe to
    entities this service has no flow for) ends `skipped` with the reason, never `pending`."""
    base, _ = live_service
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": connected_realm,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Item",
                                "id": "1",
                                "operation": "Update",
                                "lastUpdated": "2026-11-21T10:00:00.000Z",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/qbo/webhooks", content=body, headers=intuit_headers(body)
        )
    assert response.status_code == 200

    async def item_change() -> QboChange | None:
        async with db() as session:
            row = (
                await session.execute(select(QboChange).where(QboChange.entity == "Item"))
            ).scalar_one_or_none()
        return row if row is not None and row.state is not InboundState.PENDING else None

    row = await wait_for(item_change, "the Item change to be processed", 15)
    assert row.state is InboundState.SKIPPED
    assert row.state_reason is not None
    assert "Item changes" in row.state_reason


# --- Our own customer after a rolled-back job -------------------------------------------------


async def emulator_call(emulator: str, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.request(method, f"/_emulator{path}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


# QboClient's own tries of one request on a 5xx before the job is failed (max_attempts).
CLIENT_TRIES = 4


async def test_own_customer_is_no_echo_after_the_job_that_made_it_failed(
    live_service: tuple[str, Settings],
    connected_realm: str,
    emulator: str,
    db: SessionFactory,
) -> None:
    """Failure mode "our own customers are never echoed": a job creates a QBO customer, then its
    invoice create fails (503) and its transaction rolls back; the customer's webhook, delivered
    only after the event has ended failed, is still recognised as our own write (no
    contact.upsert), and Retry adopts that customer instead of making another."""
    base, _ = live_service
    realm = connected_realm
    # Webhooks are held (a long batch window) and delivered on demand: "however late".
    await emulator_call(
        emulator,
        "PATCH",
        "/config",
        {"webhook_url": f"{base}/v1/qbo/webhooks", "webhook_batch_window_s": 300},
    )
    # A first invoice links the items and the income account, so the next one costs exactly:
    # query by email, create the customer, create the invoice.
    first = {
        **CONTACT,
        "id": "contact_warm",
        "email": "warm@example.com",
        "first_name": "Wanda",
        "last_name": "Warm",
        "company_name": None,
    }
    assert (await post(base, new_invoice("evt_warm", "inv_warm", first))).status_code == 202
    row = await wait_for(lambda: finished(db, "evt_warm"), "the first invoice")
    assert row.state is InboundState.DONE, row.state_reason
    await emulator_call(emulator, "DELETE", f"/companies/{realm}/requests")
    # Requests 1-2 pass (a 1 ms "slow" fault), request 3 (the invoice) gets a 503, and so does
    # every request after it until each run of the job has failed: the client tries a request
    # CLIENT_TRIES times, and the job runs 1 + MAX_ATTEMPTS times. The event ends failed.
    faults = f"/companies/{realm}/faults"
    await emulator_call(emulator, "POST", faults, {"kind": "slow", "count": 2, "delay_ms": 1})
    count = CLIENT_TRIES * (1 + MAX_ATTEMPTS)
    await emulator_call(emulator, "POST", faults, {"kind": "503", "count": count})

    ann = {
        **CONTACT,
        "id": "contact_ann",
        "email": "ann.echo@example.com",
        "first_name": "Ann",
        "last_name": "Echo",
        "company_name": None,
    }
    assert (await post(base, new_invoice("evt_ann", "inv_ann", ann))).status_code == 202
    row = await wait_for(lambda: finished(db, "evt_ann"), "the failing invoice", 60)
    assert row.state is InboundState.FAILED, row.state_reason
    log = (await emulator_call(emulator, "GET", f"/companies/{realm}/requests"))["requests"]
    calls = [(r["method"], r["path"].split("?")[0], r["status"]) for r in log]
    assert calls[1:3] == [("POST", "/customer", 200), ("POST", "/invoice", 503)], calls
    [customer] = [
        c
        for c in await Qbo(emulator, realm).all("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == "ann.echo@example.com"
    ]

    # Now the customer's webhook arrives: no CRM event is in flight any more.
    await emulator_call(emulator, "POST", "/webhooks/flush")

    async def customer_change_done() -> bool:
        async with db() as session:
            rows = (
                (
                    await session.execute(
                        select(QboChange).where(
                            QboChange.entity == "Customer", QboChange.entity_id == customer["Id"]
                        )
                    )
                )
                .scalars()
                .all()
            )
        return bool(rows) and all(r.state is InboundState.DONE for r in rows)

    await wait_for(customer_change_done, "the customer's webhook to be processed")
    upserts = [
        record
        for c in await callbacks(db, "contact.upsert")
        for record in c.payload["contacts"]
        if record["qbo_customer_id"] == customer["Id"]
    ]
    assert upserts == [], "our own customer was sent back to the CRM as a contact"

    # Retry adopts the customer: one customer, and the invoice is made for it.
    [entry] = await failed_entries(db, "inv_ann")
    await retry_entry(base, entry.id)
    row = await wait_for(lambda: finished(db, "evt_ann"), "the retried invoice")
    assert row.state is InboundState.DONE, row.state_reason
    qbo = Qbo(emulator, realm)
    same_email = [
        c
        for c in await qbo.all("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == "ann.echo@example.com"
    ]
    assert [c["Id"] for c in same_email] == [customer["Id"]]
    invoices = [i for i in await qbo.all("Invoice") if i.get("DocNumber") == "N-inv_ann"]
    assert [i["CustomerRef"]["value"] for i in invoices] == [customer["Id"]]


# --- A reconnect re-queues waiting work in a background job -----------------------------------

WAITING = 300


def contact_event(n: int) -> dict[str, Any]:
    return {
        "id": f"evt_contact_{n}",
        "type": "contact.updated",
        "occurred_at": "2026-11-21T10:00:00Z",
        "location_id": "loc_1",
        "data": {"id": f"c_{n}", "email": f"person{n}@example.com", "first_name": "P"},
    }


async def timed_browse(url: str) -> tuple[list[str], dict[str, float]]:
    """Follow redirects like a browser; returns the URLs and the seconds each path took."""
    visited, took = [url], {}
    async with httpx.AsyncClient() as browser:
        while not url.startswith("https://crm.example.com"):
            started = time.monotonic()
            response = await browser.get(url)
            took[httpx.URL(url).path] = time.monotonic() - started
            assert response.status_code in (302, 303, 307), response.text
            url = response.headers["location"]
            visited.append(url)
    return visited, took


async def test_reconnect_requeues_waiting_work_in_a_background_job(
    live_service: tuple[str, Settings],
    connected_realm: str,
    db: SessionFactory,
) -> None:
    """Smaller holes: a reconnect re-queues the waiting events in one background job (one per
    connection), not inside the browser's OAuth callback request."""
    base, _ = live_service
    async with httpx.AsyncClient() as http:
        response = await http.delete(f"{base}/v1/connections/loc_1", headers=AUTH)
    assert response.status_code == 200, response.text
    for start in range(0, WAITING, 50):
        answers = await asyncio.gather(
            *(post(base, contact_event(n)) for n in range(start, start + 50))
        )
        assert {a.status_code for a in answers} == {202}

    async def all_paused() -> bool:
        rows = await event_rows(db)
        return len(rows) == WAITING and all(
            (r.state_reason or "").startswith("paused") for r in rows
        )

    await wait_for(all_paused, "the events to wait for a reconnect", 60)

    link = await start_connect(base)
    visited, took = await timed_browse(link["connect_url"])
    assert "status=connected" in visited[-1], visited
    assert (await describe(base))["status"] == "active"

    async def all_finished() -> bool:
        rows = await event_rows(db)
        return all(r.state is InboundState.SKIPPED for r in rows)

    await wait_for(all_finished, "the waiting events to be processed", 90)
    async with db() as session:
        resume_jobs = (
            await session.execute(
                text(
                    "SELECT id, status FROM procrastinate_jobs WHERE task_name = :task ORDER BY id"
                ),
                {"task": names.RESUME_TASK},
            )
        ).all()
        # One at the first connect (nothing waited then), one at the reconnect.
        assert [str(status) for _, status in resume_jobs] == ["succeeded", "succeeded"]
        resume_id = max(job_id for job_id, _ in resume_jobs)
        requeued = (
            await session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE id > :resume), count(*) FROM procrastinate_jobs "
                    "WHERE task_name = :task"
                ),
                {"task": names.CRM_EVENT_TASK, "resume": resume_id},
            )
        ).one()
    # Each event had its intake job; the re-queued ones were all made after the resume job, by it.
    assert tuple(requeued) == (WAITING, 2 * WAITING)
    # Generous for a shared 2-core machine; the callback no longer grows with the waiting work.
    assert took["/v1/oauth/callback"] < 3.0, took
