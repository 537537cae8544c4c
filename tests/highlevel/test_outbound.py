"""QuickBooks → HighLevel through the stand-in over HTTP: the callbacks the QBO flows write (built
here by the same builders, from Intuit's "Read a customer" sample, outbound_samples/) are applied
through HighLevel's API for a HighLevel location, and still sent to CRM_CALLBACK_URL for others."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.crm.callback_payloads import InvoiceImportCallback
from app.integrations.quickbooks.entities import Customer
from app.models import CrmCallback, SyncLogEntry
from app.models.states import CallbackState, SyncState
from app.repositories import connections, crm_callbacks, entity_links, highlevel_locations
from app.repositories.import_links import ImportedLink, upsert_imported
from app.services import callback_delivery
from app.state import AppState
from app.sync.mapping.crm_payloads import (
    contact_changed,
    contact_record,
    contacts_imported,
    review_request,
)
from tests.fixtures.crm_receiver import CrmReceiver
from tests.highlevel.hl_fixtures import (
    highlevel_settings,
    hl_config,
    hl_contacts,
    hl_emulator,
    install,
)

__all__ = ["hl_config", "hl_emulator"]

SAMPLES = Path(__file__).parent / "outbound_samples"
LOCATION = "hlLoc1"
OTHER = "crmLoc1"


def sample_customer(**changes: Any) -> Customer:
    text = (SAMPLES / "customer-read-response.json").read_text()
    # Money as QBO's JSON has it, read as Decimal (the service never reads money as float).
    document = json.loads(text, parse_float=Decimal)["Customer"]
    return Customer.model_validate({**document, **changes})


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, hl_emulator: str, crm_receiver: CrmReceiver
) -> Settings:
    return highlevel_settings(database_url, tmp_path, hl_emulator, crm_receiver.url)


async def enqueue(db: SessionFactory, location_id: str, body: Any) -> None:
    async with db() as session, session.begin():
        await crm_callbacks.enqueue(session, location_id, body)


async def deliver(db: SessionFactory, state: AppState) -> callback_delivery.DeliveryReport:
    return await callback_delivery.deliver_due(db, state.services.callbacks)


async def test_a_qbo_customer_becomes_a_highlevel_contact_matched_by_email(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    # The contact already exists in HighLevel under the customer's email (another case).
    async with httpx.AsyncClient() as hl:
        made = await hl.post(
            f"{hl_emulator}/_emulator/locations/{LOCATION}/contacts",
            json={"email": "surf@intuit.com", "firstName": "B."},
        )
        assert made.status_code == 201
    existing_id = made.json()["id"]
    # The initial import linked QBO customer 2 with no CRM id yet.
    async with db() as session, session.begin():
        connection = await connections.get_by_location(session, LOCATION)
        assert connection is not None
        await upsert_imported(
            session,
            connection_id=connection.id,
            kind="customer",
            links=[ImportedLink("2", "0", "hash")],
        )
    customer = sample_customer()
    await enqueue(db, LOCATION, contact_changed(contact_record(customer), None, []))

    report = await deliver(db, state)

    assert report.delivered == 1
    contacts = await hl_contacts(hl_emulator, LOCATION)
    assert len(contacts) == 1
    contact = contacts[0]
    assert contact["id"] == existing_id
    assert contact["firstName"] == "Bill"
    assert contact["lastName"] == "Lucchini"
    assert contact["companyName"] == "Bill's Windsurf Shop"
    assert contact["city"] == "Half Moon Bay"
    async with db() as session:
        connection = await connections.get_by_location(session, LOCATION)
        assert connection is not None
        link = await entity_links.by_qbo_id(session, connection.id, "customer", "2")
        entries = (await session.execute(select(SyncLogEntry))).scalars().all()
        location = await highlevel_locations.get(session, LOCATION)
    assert link is not None
    assert link.crm_id == existing_id
    assert [(e.kind, e.state, e.crm_id) for e in entries] == [
        ("customer", SyncState.SYNCED, existing_id)
    ]
    assert location is not None
    assert location.last_api_ok_at is not None


async def test_an_import_page_creates_contacts_and_skips_the_unreachable(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    with_email = contact_record(sample_customer())
    # Synthetic variant of the sample: a customer with neither email nor phone.
    bare = contact_record(sample_customer(Id="3", PrimaryEmailAddr=None, PrimaryPhone=None))
    await enqueue(db, LOCATION, contacts_imported([with_email, bare]))

    report = await deliver(db, state)

    assert report.delivered == 1
    contacts = await hl_contacts(hl_emulator, LOCATION)
    assert [c.get("email") for c in contacts] == ["Surf@Intuit.com"]


async def test_first_paid_invoice_tags_the_contact(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    async with httpx.AsyncClient() as hl:
        made = await hl.post(
            f"{hl_emulator}/_emulator/locations/{LOCATION}/contacts",
            json={"email": "Surf@Intuit.com", "tags": ["vip"]},
        )
        assert made.status_code == 201
    customer = sample_customer()
    await enqueue(
        db,
        LOCATION,
        review_request(
            customer_id="2",
            customer=customer,
            invoice_id="130",
            crm_contact_id=None,
            paid_date=date(2014, 9, 18),
        ),
    )

    report = await deliver(db, state)

    assert report.delivered == 1
    contacts = await hl_contacts(hl_emulator, LOCATION)
    assert len(contacts) == 1
    assert contacts[0]["tags"] == ["vip", "qbo-first-invoice-paid"]


async def test_highlevel_rate_limit_is_honoured_not_failed(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    async with httpx.AsyncClient() as hl:
        # A tight burst window on HighLevel's side (ours stays at the documented 100 per 10 s).
        patched = await hl.patch(
            f"{hl_emulator}/_emulator/config",
            json={"rate_limit_burst": 2, "rate_limit_interval_ms": 1000},
        )
        assert patched.status_code == 200
    records = [
        contact_record(
            sample_customer(
                Id=str(n), PrimaryEmailAddr={"Address": f"c{n}@ex.test"}, PrimaryPhone=None
            )
        )
        for n in range(10, 15)
    ]  # synthetic variants of the sample: five customers with their own emails, no phone
    await enqueue(db, LOCATION, contacts_imported(records))

    started = time.monotonic()
    report = await deliver(db, state)

    assert report.delivered == 1
    contacts = await hl_contacts(hl_emulator, LOCATION)
    assert sorted(str(c["email"]) for c in contacts) == [f"c{n}@ex.test" for n in range(10, 15)]
    # Five upserts at two a second could not all go at once: the windows were waited out.
    assert time.monotonic() - started >= 1.0


async def test_callbacks_go_to_highlevel_or_to_the_crm_url_per_location(
    client: httpx.AsyncClient,
    hl_emulator: str,
    db: SessionFactory,
    state: AppState,
    crm_receiver: CrmReceiver,
) -> None:
    await install(client, hl_emulator, LOCATION)
    async with db() as session, session.begin():
        await connections.register_location(
            session, OTHER, import_invoices=False, review_automation=False
        )
    record = contact_record(sample_customer())
    await enqueue(db, LOCATION, contact_changed(record, None, []))
    await enqueue(db, OTHER, contact_changed(record, None, []))

    report = await deliver(db, state)

    assert report.delivered == 2
    assert [c["location_id"] for c in crm_receiver.received] == [OTHER]
    assert len(await hl_contacts(hl_emulator, LOCATION)) == 1

    # Uninstalled: the location's callbacks go to the CRM URL again.
    async with db() as session, session.begin():
        await highlevel_locations.uninstall(session, LOCATION, at=datetime.now(UTC))
    await enqueue(db, LOCATION, contact_changed(record, None, []))
    report = await deliver(db, state)
    assert report.delivered == 1
    assert [c["location_id"] for c in crm_receiver.received] == [OTHER, LOCATION]


async def test_imported_invoices_are_not_written_to_highlevel(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    await enqueue(db, LOCATION, InvoiceImportCallback(invoices=[]))
    report = await deliver(db, state)
    assert report.delivered == 1
    async with httpx.AsyncClient() as hl:
        listed = await hl.get(f"{hl_emulator}/_emulator/locations/{LOCATION}/invoices")
    assert listed.json()["invoices"] == []


class TestWithoutCrmUrl:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path, hl_emulator: str) -> Settings:
        return highlevel_settings(database_url, tmp_path, hl_emulator, None)

    async def test_only_highlevel_callbacks_are_sent_the_others_wait(
        self, client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
    ) -> None:
        await install(client, hl_emulator, LOCATION)
        record = contact_record(sample_customer())
        await enqueue(db, LOCATION, contact_changed(record, None, []))
        await enqueue(db, OTHER, contact_changed(record, None, []))

        report = await deliver(db, state)

        assert report.delivered == 1
        async with db() as session:
            rows = (await session.execute(select(CrmCallback))).scalars().all()
        states = {row.location_id: (row.state, row.attempts) for row in rows}
        assert states[LOCATION][0] == CallbackState.DELIVERED
        assert states[OTHER] == (CallbackState.PENDING, 0)


async def test_a_linked_contact_is_updated_even_when_the_email_changed(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    await enqueue(db, LOCATION, contact_changed(contact_record(sample_customer()), None, []))
    await deliver(db, state)
    [first] = await hl_contacts(hl_emulator, LOCATION)
    # Synthetic change of the sample: a new email in QuickBooks, the contact linked meanwhile.
    changed = contact_record(sample_customer(PrimaryEmailAddr={"Address": "bill@windsurf.test"}))
    await enqueue(db, LOCATION, contact_changed(changed, str(first["id"]), []))

    report = await deliver(db, state)

    assert report.delivered == 1
    [contact] = await hl_contacts(hl_emulator, LOCATION)
    assert contact["id"] == first["id"]
    assert contact["email"] == "bill@windsurf.test"
