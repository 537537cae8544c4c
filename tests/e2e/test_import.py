"""Q1/Q3 initial import end to end: a seeded emulator company connected through the real flow,
the in-process worker running the import job, and a CRM receiver checking every signature."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db.session import SessionFactory
from app.models import Connection, CrmCallback, DoctorResult, EntityLink
from app.models.states import LinkOrigin
from app.services.container import Runtime
from app.sync.mapping.crm_payloads import record_hash
from app.sync.qbo_to_crm import imports
from app.wiring import build_handlers, build_services
from tests.fixtures.connect import browse, describe, start_connect
from tests.fixtures.crm_receiver import CrmReceiver

pytestmark = pytest.mark.slow

NO_EMAIL = 3
INACTIVE = 2
# What connecting costs in QBO requests: the company facts (CompanyInfo and Preferences).
CONNECT_READS = 2


@pytest.fixture
def callback_url(crm_receiver: CrmReceiver) -> str:
    return crm_receiver.url


async def seeded_company(emulator: str, customers: int, invoices: int) -> str:
    """A new company (the newest, so auto-consent connects it) with seeded data, plus customers
    without an email and inactive ones."""
    async with httpx.AsyncClient(base_url=emulator, timeout=60) as http:
        created = await http.post("/_emulator/companies", json={"country": "US"})
        realm: str = created.json()["realm_id"]
        control = f"/_emulator/companies/{realm}"
        seeded = await http.post(
            f"{control}/seed", json={"customers": customers, "invoices": invoices}
        )
        assert seeded.status_code == 200, seeded.text
        for n in range(NO_EMAIL):
            body = {"DisplayName": f"No Email {n}", "GivenName": "Nomail"}
            assert (await http.post(f"{control}/entities/Customer", json=body)).status_code == 201
        for n in range(INACTIVE):
            inactive: dict[str, Any] = {"DisplayName": f"Gone Away {n}", "Active": False}
            created = await http.post(f"{control}/entities/Customer", json=inactive)
            assert created.status_code == 201, created.text
    return realm


async def connect(base: str, *, import_invoices: bool) -> None:
    link = await start_connect(base, import_invoices=import_invoices)
    visited = await browse(link["connect_url"])
    assert "status=connected" in visited[-1], visited


async def wait_for(
    what: str, check: Callable[[], Any], timeout_s: float = 120, interval_s: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval_s)


async def import_done(base: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        view = await describe(base)
        state = view["import"]["state"]
        assert not str(state).startswith(("failed", "paused")), view["import"]
        return view if state == "done" else None

    view: dict[str, Any] = await wait_for("import_state done", done)
    return view


def of_type(receiver: CrmReceiver, type_: str) -> list[dict[str, Any]]:
    return [body for body in receiver.received if body["type"] == type_]


async def all_delivered(receiver: CrmReceiver) -> None:
    """The final `connection.status` (import done) is the last callback the import writes."""

    def final_status() -> bool:
        return any(
            body["data"]["import"]["state"] == "done"
            for body in of_type(receiver, "connection.status")
            if "import" in body["data"]
        )

    await wait_for("the final connection.status callback", final_status)


# The settings doctor's reads at connect (app/sync/doctor/facts.py), made by its own job beside
# the import: company info, preferences, and one query each for accounts, tax codes, tax rates.
DOCTOR_QUERIES = 3


async def doctor_done(db: SessionFactory) -> None:
    async def has_result() -> bool:
        async with db() as session:
            count = (
                await session.execute(select(func.count()).select_from(DoctorResult))
            ).scalar_one()
            return bool(count)

    await wait_for("the settings doctor's result at connect", has_result)


async def qbo_requests(emulator: str, realm: str, db: SessionFactory) -> dict[str, int]:
    """The import's QBO requests: all the company's requests but the doctor's at connect."""
    await doctor_done(db)
    async with httpx.AsyncClient(base_url=emulator) as http:
        log = (await http.get(f"/_emulator/companies/{realm}/requests")).json()
    counts: dict[str, int] = dict(log["by_method_path"])
    assert sum(counts.values()) == log["total"]
    counts["POST /query"] -= DOCTOR_QUERIES
    counts[f"GET /companyinfo/{realm}"] -= 1
    counts["GET /preferences"] -= 1
    return {key: value for key, value in counts.items() if value}


async def links(db: SessionFactory, kind: str) -> list[EntityLink]:
    async with db() as session:
        result = await session.execute(
            select(EntityLink).where(EntityLink.kind == kind).order_by(EntityLink.id)
        )
        return list(result.scalars())


async def callback_rows(db: SessionFactory) -> int:
    async with db() as session:
        return int(
            (await session.execute(select(func.count()).select_from(CrmCallback))).scalar_one()
        )


def contacts_received(receiver: CrmReceiver) -> list[dict[str, Any]]:
    batches = of_type(receiver, "contact.upsert")
    assert all(batch["data"]["import"] is True for batch in batches)
    return [contact for batch in batches for contact in batch["data"]["contacts"]]


def invoices_received(receiver: CrmReceiver) -> list[dict[str, Any]]:
    return [
        invoice
        for batch in of_type(receiver, "invoice.import")
        for invoice in batch["data"]["invoices"]
    ]


def assert_each_once(records: list[dict[str, Any]], key: str, expected: int) -> None:
    ids = Counter(record[key] for record in records)
    duplicates = {qbo_id: n for qbo_id, n in ids.items() if n > 1}
    assert not duplicates, f"sent more than once: {duplicates}"
    assert len(ids) == expected


def assert_links_match(found: list[EntityLink], records: list[dict[str, Any]], key: str) -> None:
    by_id = {record[key]: record for record in records}
    assert {link.qbo_id for link in found} == set(by_id)
    for link in found:
        assert link.origin is LinkOrigin.QBO
        assert link.crm_id is None
        assert link.sync_token is not None
        assert link.state == {"crm_hash": record_hash(by_id[link.qbo_id])}


@asynccontextmanager
async def runtime_for(
    settings: Settings, database_url: str, factory: SessionFactory
) -> AsyncIterator[Runtime]:
    """A second Runtime next to the live service's, to run the importer directly."""
    async with build_services(settings, factory) as services:
        yield Runtime(
            settings=settings,
            session_factory=factory,
            services=services,
            handlers=build_handlers(),
        )


async def test_import_with_invoices_pages_customers_and_invoices_each_once(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await seeded_company(emulator, customers=2500, invoices=1001)
    customers, invoices = 2500 + NO_EMAIL + INACTIVE, 1001

    await connect(base, import_invoices=True)
    view = await import_done(base)
    await all_delivered(crm_receiver)

    assert view["import"]["progress"] == {
        "customers": {"done": customers, "total": customers, "next_position": customers + 1},
        "invoices": {"done": invoices, "total": invoices, "next_position": invoices + 1},
    }
    # One batch callback per page: 3 pages of customers, 2 of invoices.
    assert len(of_type(crm_receiver, "contact.upsert")) == 3
    assert len(of_type(crm_receiver, "invoice.import")) == 2
    contacts = contacts_received(crm_receiver)
    assert_each_once(contacts, "qbo_customer_id", customers)
    inactive = [c for c in contacts if not c["active"]]
    assert sorted(c["display_name"] for c in inactive) == ["Gone Away 0", "Gone Away 1"]
    assert len([c for c in contacts if c["email"] is None]) == NO_EMAIL + INACTIVE
    received_invoices = invoices_received(crm_receiver)
    assert_each_once(received_invoices, "qbo_invoice_id", invoices)
    sample = received_invoices[0]
    assert isinstance(sample["totals"]["total"], str)  # money as decimal strings, never floats
    assert sample["qbo_customer_id"] in {c["qbo_customer_id"] for c in contacts}
    assert sample["line_items"]
    assert sample["number"]
    assert sample["issue_date"]
    assert_links_match(await links(db, "customer"), contacts, "qbo_customer_id")
    assert_links_match(await links(db, "invoice"), received_invoices, "qbo_invoice_id")

    # Progress went out as connection.status callbacks, one per page (and at the start).
    progress = [
        body["data"]["import"]
        for body in of_type(crm_receiver, "connection.status")
        if "import" in body["data"]
    ]
    assert len(progress) == 1 + 3 + 2 + 1  # totals, 5 pages, done
    assert progress[0]["progress"]["customers"] == {
        "done": 0,
        "total": customers,
        "next_position": 1,
    }
    assert {p["progress"]["customers"]["done"] for p in progress} >= {1000, 2000, customers}

    # 2 counts + 3 + 2 pages, and nothing else but the reads made at connect.
    assert await qbo_requests(emulator, realm, db) == {
        "POST /query": 2 + 3 + 2,
        f"GET /companyinfo/{realm}": 1,
        "GET /preferences": 1,
    }


async def test_import_without_invoices_and_rerun_after_done_does_nothing(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
    database_url: str,
) -> None:
    base, settings = live_service
    realm = await seeded_company(emulator, customers=1200, invoices=40)
    customers = 1200 + NO_EMAIL + INACTIVE

    await connect(base, import_invoices=False)
    view = await import_done(base)
    await all_delivered(crm_receiver)

    assert view["import"]["progress"] == {
        "customers": {"done": customers, "total": customers, "next_position": customers + 1}
    }
    assert_each_once(contacts_received(crm_receiver), "qbo_customer_id", customers)
    assert of_type(crm_receiver, "invoice.import") == []
    assert await links(db, "invoice") == []
    assert (await qbo_requests(emulator, realm, db))["POST /query"] == 1 + 2

    # The job again (a replay, or a second defer): no QBO request, no callback, nothing changed.
    before_requests, before_callbacks = (
        await qbo_requests(emulator, realm, db),
        await callback_rows(db),
    )
    async with db() as session:
        connection_id = str((await session.execute(select(Connection.id))).scalar_one())
    async with runtime_for(settings, database_url, db) as runtime:
        await imports.run_initial_import(runtime, connection_id)
    assert await qbo_requests(emulator, realm, db) == before_requests
    assert await callback_rows(db) == before_callbacks
    assert (await describe(base))["import"]["state"] == "done"


async def test_a_crash_after_the_second_page_resumes_at_the_third(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    monkeypatch: pytest.MonkeyPatch,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm = await seeded_company(emulator, customers=2500, invoices=300)
    customers, invoices = 2500 + NO_EMAIL + INACTIVE, 300

    # The job dies right after the 2nd page committed (once); procrastinate retries it.
    # `_deliver` runs after each committed page, so counting its calls counts the pages.
    deliver = imports._deliver
    pages = 0

    async def crash_after_second_page(runtime: Runtime) -> None:
        nonlocal pages
        pages += 1
        await deliver(runtime)
        if pages == 2:
            raise RuntimeError("simulated crash after page 2")

    monkeypatch.setattr(imports, "_deliver", crash_after_second_page)

    await connect(base, import_invoices=True)
    view = await import_done(base)
    await all_delivered(crm_receiver)

    states = [
        body["data"]["import"]["state"]
        for body in of_type(crm_receiver, "connection.status")
        if "import" in body["data"]
    ]
    assert any(state.startswith("retrying") for state in states), states
    # After each of 3 customer pages and 1 invoice page (none written twice), and at the end.
    assert pages == 3 + 1 + 1
    assert view["import"]["progress"]["customers"]["done"] == customers
    assert view["import"]["progress"]["invoices"]["done"] == invoices
    assert len(of_type(crm_receiver, "contact.upsert")) == 3
    assert_each_once(contacts_received(crm_receiver), "qbo_customer_id", customers)
    assert_each_once(invoices_received(crm_receiver), "qbo_invoice_id", invoices)
    # Counted once, every page read once: the retry started at page 3, not at the beginning.
    assert (await qbo_requests(emulator, realm, db))["POST /query"] == 2 + 3 + 1
