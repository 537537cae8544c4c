"""S1-S4 end to end: signed CRM events through the intake, the worker, into the QBO emulator."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.session import SessionFactory
from app.models.states import SyncState
from tests.e2e.sync_helpers import Qbo, callbacks, entries, post, settle
from tests.fixtures.connect import AUTH
from tests.fixtures.crm_receiver import CrmReceiver
from tests.fixtures.events import CONTACT, invoice_event, payment_event

pytestmark = pytest.mark.slow


@pytest.fixture
def callback_url(crm_receiver: CrmReceiver) -> str:
    return crm_receiver.url


def later(
    payload: dict[str, Any], event_id: str, type_: str, updated_at: str, **data: Any
) -> dict[str, Any]:
    payload = {**payload, "id": event_id, "type": type_}
    payload["data"] = {**payload["data"], "updated_at": updated_at, **data}
    return payload


def totals(total: str, paid: str = "0.00") -> dict[str, str]:
    due = str(Decimal(total) - Decimal(paid))
    return {
        "subtotal": total,
        "discount": "0.00",
        "tax": "0.00",
        "total": total,
        "amount_paid": paid,
        "amount_due": due,
    }


SIMPLE_LINES = [{"name": "Consultation", "quantity": 3, "unit_price": "9.99", "taxes": []}]


def simple_invoice(event_id: str = "e1", **data: Any) -> dict[str, Any]:
    base = {
        "line_items": SIMPLE_LINES,
        "discount": None,
        "totals": totals("29.97"),
        "created_at": "2099-01-01T00:00:00Z",
        "updated_at": "2099-01-01T00:00:00Z",
    }
    return invoice_event(event_id, **(base | data))


async def test_sent_invoice_creates_customer_items_and_invoice_to_the_cent(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    assert (await post(base, invoice_event(created_at="2099-01-01T00:00:00Z"))).status_code == 202
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SYNCED, entry.message
    invoice = await qbo.one("Invoice")
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("115.42")
    assert invoice["DocNumber"] == "INV-1001"
    customer = await qbo.one("Customer")
    assert customer["PrimaryEmailAddr"]["Address"] == CONTACT["email"]
    assert invoice["CustomerRef"]["value"] == customer["Id"]
    assert {item["Name"] for item in await qbo.all("Item")} >= {"Consultation", "Travel"}
    [callback] = await callbacks(db)
    assert callback.payload["state"] == "synced"
    assert callback.payload["qbo_id"] == invoice["Id"]


async def test_duplicates_and_reordering_make_one_of_everything(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    first = simple_invoice("e1")
    events = [first] * 5 + [
        later(first, "e2", "invoice.updated", "2099-01-02T00:00:00Z", number="INV-2"),
        later(
            first,
            "e3",
            "invoice.partially_paid",
            "2099-01-03T00:00:00Z",
            number="INV-2",
            status="partially_paid",
            totals=totals("29.97", "10.00"),
        ),
    ]
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    for payload in shuffled:
        assert (await post(base, payload)).status_code in (200, 202)
    await settle(db)
    assert len(await qbo.all("Customer")) == 1
    invoice = await qbo.one("Invoice")
    payments = await qbo.all("Payment")
    assert [Decimal(str(p["TotalAmt"])) for p in payments] == [Decimal("10.00")]
    assert Decimal(str(invoice["Balance"])) == Decimal("19.97")


async def test_partial_then_full_payment_then_void(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    first = simple_invoice("e1")
    await post(base, first)
    await settle(db)
    await post(
        base,
        later(
            first,
            "e2",
            "invoice.partially_paid",
            "2099-01-02T00:00:00Z",
            status="partially_paid",
            totals=totals("29.97", "10.00"),
        ),
    )
    await settle(db)
    await post(
        base,
        later(
            first,
            "e3",
            "invoice.paid",
            "2099-01-03T00:00:00Z",
            status="paid",
            totals=totals("29.97", "29.97"),
        ),
    )
    await settle(db)
    invoice = await qbo.one("Invoice")
    assert Decimal(str(invoice["Balance"])) == 0
    assert sorted(Decimal(str(p["TotalAmt"])) for p in await qbo.all("Payment")) == [
        Decimal("10.00"),
        Decimal("19.97"),
    ]
    # The same "paid" snapshot again changes nothing.
    await post(
        base,
        later(
            first,
            "e4",
            "invoice.paid",
            "2099-01-03T00:00:00Z",
            status="paid",
            totals=totals("29.97", "29.97"),
        ),
    )
    await settle(db)
    assert len(await qbo.all("Payment")) == 2


async def test_invoice_created_before_connecting_is_skipped_with_a_reason(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, simple_invoice(created_at="2020-01-01T00:00:00Z"))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SKIPPED
    assert "before QuickBooks was connected" in (entry.message or "")
    assert await qbo.all("Invoice") == []


async def test_existing_customer_matched_by_email_in_any_case_even_inactive(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    existing = await qbo.create(
        "Customer",
        {
            "DisplayName": "Ann from before",
            "PrimaryEmailAddr": {"Address": CONTACT["email"].upper()},
        },
    )
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        await http.delete(f"/_emulator/companies/{qbo.realm}/entities/Customer/{existing['Id']}")
    await post(base, simple_invoice())
    await settle(db)
    customer = await qbo.one("Customer")
    assert customer["Id"] == existing["Id"]
    assert customer["Active"] is True
    assert customer["GivenName"] == "Ann"


async def test_display_name_held_by_a_vendor_gets_a_readable_suffix(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await qbo.create("Vendor", {"DisplayName": "Ann O'Neil"})
    await post(base, simple_invoice())
    await settle(db)
    customer = await qbo.one("Customer")
    assert customer["DisplayName"] == "Ann O'Neil (O'Neil Bakery)"
    assert (await entries(db))[0].state is SyncState.SYNCED


async def test_payment_makes_one_sales_receipt_and_invoice_payments_make_none(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    receipt_event = payment_event(
        line_items=SIMPLE_LINES,
        totals={"subtotal": "29.97", "discount": "0.00", "tax": "0.00", "total": "29.97"},
    )
    for _ in range(3):
        await post(base, receipt_event)
    await post(base, payment_event("evt_pay_2", id="pay_2", source="invoice", invoice_id="inv_9"))
    await settle(db)
    receipt = await qbo.one("SalesReceipt")
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("29.97")
    assert receipt["PaymentRefNum"] == "ch_123"
    states = sorted(e.state.value for e in await entries(db))
    assert states == ["skipped", "synced"]


async def test_a_failed_entry_is_retried_by_api_after_the_cause_is_fixed(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    # Someone already used the number in QuickBooks: the sync fails with what to do.
    customer = await qbo.create("Customer", {"DisplayName": "Someone else"})
    item = (await qbo.all("Item"))[0]
    taken = await qbo.create(
        "Invoice",
        {
            "DocNumber": "INV-1001",
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 1,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 1,
                        "UnitPrice": 1,
                    },
                }
            ],
        },
    )
    await post(base, simple_invoice())
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.FAILED
    assert "INV-1001" in (entry.message or "")
    assert entry.action
    assert "different number" in entry.action
    # The person renumbers the other invoice in QuickBooks, then retries.
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        await http.patch(
            f"/_emulator/companies/{qbo.realm}/entities/Invoice/{taken['Id']}",
            json={"DocNumber": "OLD-1001"},
        )
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections/loc_1/sync-log/{entry.id}/retry", headers=AUTH
        )
    assert response.status_code == 202, response.text
    await settle(db)
    assert (await entries(db))[-1].state is SyncState.SYNCED
    assert len(await qbo.all("Invoice")) == 2


async def test_every_result_reaches_the_crm_signed_and_once(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, crm_receiver: CrmReceiver
) -> None:
    base, _ = live_service
    await post(base, simple_invoice())
    await post(base, simple_invoice("e-old", created_at="2020-01-01T00:00:00Z", id="inv_old"))
    await settle(db)
    deadline = asyncio.get_running_loop().time() + 15
    while len({body["id"] for body in crm_receiver.received if body["type"] == "sync.result"}) < 2:
        assert asyncio.get_running_loop().time() < deadline, crm_receiver.received
        await asyncio.sleep(0.1)
    results = [body for body in crm_receiver.received if body["type"] == "sync.result"]
    assert sorted(body["data"]["state"] for body in results) == ["skipped", "synced"]
    assert crm_receiver.bad_signatures == []
    statuses = {
        body["data"]["status"]
        for body in crm_receiver.received
        if body["type"] == "connection.status"
    }
    assert "active" in statuses


async def test_void_after_payment_voids_both_in_quickbooks(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    first = simple_invoice("e1")
    await post(base, first)
    await post(
        base,
        later(
            first,
            "e2",
            "invoice.partially_paid",
            "2099-01-02T00:00:00Z",
            status="partially_paid",
            totals=totals("29.97", "10.00"),
        ),
    )
    await post(
        base,
        later(
            first,
            "e3",
            "invoice.voided",
            "2099-01-03T00:00:00Z",
            status="void",
            totals=totals("29.97", "10.00"),
        ),
    )
    await settle(db)
    assert [e.state for e in await entries(db)][-1] is SyncState.SYNCED
    invoice = await qbo.one("Invoice")
    assert Decimal(str(invoice["TotalAmt"])) == 0
    [payment] = await qbo.all("Payment")
    assert Decimal(str(payment["TotalAmt"])) == 0


async def test_a_crash_between_the_qbo_write_and_our_commit_leaves_one_invoice(
    live_service: tuple[str, Settings],
    qbo: Qbo,
    db: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.errors import TransientError
    from app.repositories import entity_links

    real_upsert = entity_links.upsert
    crashed: list[str] = []

    async def crash_once(session: Any, **kwargs: Any) -> Any:
        if kwargs["kind"] == "invoice" and not crashed:
            crashed.append(kwargs["qbo_id"])
            # The QBO invoice exists now, but our transaction will roll back: as if we died here.
            raise TransientError("simulated crash after the QBO write")
        return await real_upsert(session, **kwargs)

    monkeypatch.setattr(entity_links, "upsert", crash_once)
    base, _ = live_service
    await post(base, simple_invoice())
    await settle(db)
    assert crashed, "the crash was simulated"
    invoice = await qbo.one("Invoice")
    assert invoice["Id"] == crashed[0]
    assert [e.state for e in await entries(db)] == [SyncState.SYNCED]


async def test_contact_updated_pushes_owned_fields_of_linked_contacts_only(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    from tests.fixtures.events import contact_event

    base, _ = live_service
    await post(base, contact_event("c0", id="someone_unlinked"))
    await post(base, simple_invoice())
    await settle(db)
    await post(base, contact_event("c1", phone="+1 555 0199", company_name="Ann's New Bakery"))
    await settle(db)
    customer = await qbo.one("Customer")
    assert customer["PrimaryPhone"]["FreeFormNumber"] == "+1 555 0199"
    assert customer["CompanyName"] == "Ann's New Bakery"
    states = [(e.kind, e.crm_id, e.state.value) for e in await entries(db)]
    assert ("customer", "someone_unlinked", "skipped") in states
    assert ("customer", "contact_1", "synced") in states


async def test_an_invoice_imported_from_quickbooks_is_never_pushed_back(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, simple_invoice(qbo_invoice_id="145", status="paid"))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SKIPPED
    assert "imported from QuickBooks" in (entry.message or "")
    assert await qbo.all("Invoice") == []


async def test_a_customer_imported_from_quickbooks_is_adopted_not_duplicated(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    from sqlalchemy import select

    from app.models import Connection, EntityLink
    from app.repositories.import_links import ImportedLink, upsert_imported

    existing = await qbo.create(
        "Customer",
        {"DisplayName": "Ann (imported)", "PrimaryEmailAddr": {"Address": CONTACT["email"]}},
    )
    async with db() as session, session.begin():
        connection = (await session.execute(select(Connection))).scalar_one()
        await upsert_imported(
            session,
            connection_id=connection.id,
            kind="customer",
            links=[ImportedLink(qbo_id=existing["Id"], sync_token="0", crm_hash="x")],
        )
    base, _ = live_service
    await post(base, simple_invoice())
    await settle(db)
    assert [e.state for e in await entries(db)] == [SyncState.SYNCED]
    assert [c["Id"] for c in await qbo.all("Customer")] == [existing["Id"]]
    async with db() as session:
        links = (
            (await session.execute(select(EntityLink).where(EntityLink.kind == "customer")))
            .scalars()
            .all()
        )
    assert [(link.qbo_id, link.crm_id) for link in links] == [(existing["Id"], "contact_1")]
