"""`payment.refunded` and `invoice.deleted` end to end: signed events in, QBO objects out.

A refund of a standalone payment becomes a RefundReceipt for the receipt's customer, paid from
the receipt's deposit account, totalling the refund to the cent; the refunds of one payment
never exceed it; a refund that arrives before its payment waits for it; every create happens
once. A deleted CRM invoice is voided in QuickBooks (its payments first), and one that never
reached QuickBooks is remembered so an older snapshot cannot create it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.provision import Database
from app.db.session import SessionFactory
from app.main import create_app
from app.models.states import SyncState
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import AUTH
from tests.fixtures.events import CONTACT, invoice_event, payment_event
from tests.fixtures.live import free_port, live_settings, serve

pytestmark = pytest.mark.slow

D = Decimal


@pytest.fixture
def live_service(
    database_url: str, db: object, emulator: str, tmp_path: Path
) -> Iterator[tuple[str, Settings]]:
    """The live service with its worker, retrying quickly and giving up after 6 attempts."""
    port = free_port()
    settings = live_settings(database_url, tmp_path / "data", emulator, port)
    settings.worker.poll_interval_s = 0.1
    settings.worker.retry_base_s = 0.2
    settings.worker.retry_max_attempts = 6
    settings.qbo.write_settle_s = 0.5
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, port) as url:
        yield url, settings


def refund(event_id: str, refund_id: str, amount: str, **data: Any) -> dict[str, Any]:
    body = {
        "id": refund_id,
        "payment_id": "pay_1",
        "refunded_at": "2026-11-05T12:00:00Z",
        "currency": "USD",
        "amount": amount,
        "reason": "Customer changed their mind",
        "contact": CONTACT,
    } | data
    return {
        "id": event_id,
        "type": "payment.refunded",
        "occurred_at": "2026-11-05T12:00:00Z",
        "location_id": "loc_1",
        "data": body,
    }


def money(value: Any) -> Decimal:
    return Decimal(str(value))


async def _states(db: SessionFactory) -> list[tuple[str, str | None, SyncState]]:
    return [(e.kind, e.crm_id, e.state) for e in await entries(db)]


async def _entry(db: SessionFactory, kind: str, crm_id: str) -> Any:
    found = [e for e in await entries(db) if (e.kind, e.crm_id) == (kind, crm_id)]
    assert found, await _states(db)
    return found[-1]


async def test_full_refund_gives_back_the_receipt(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    assert (await post(base, payment_event("p1"))).status_code == 202
    await settle(db)
    assert (await post(base, refund("r1", "rf_1", "128.24"))).status_code == 202
    await settle(db)
    entry = await _entry(db, "refund", "rf_1")
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    receipt = await qbo.one("SalesReceipt")
    back = await qbo.one("RefundReceipt")
    assert back["Id"] == entry.qbo_id
    assert money(back["TotalAmt"]) == money(receipt["TotalAmt"]) == D("128.24")
    assert back["CustomerRef"]["value"] == receipt["CustomerRef"]["value"]
    assert back["DepositToAccountRef"]["value"] == receipt["DepositToAccountRef"]["value"]
    assert back["PaymentRefNum"] == "rf_1"
    assert back["TxnDate"] == "2026-11-05"
    items = [
        line["SalesItemLineDetail"]["ItemRef"]["value"]
        for line in back["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]
    sold = [
        line["SalesItemLineDetail"]["ItemRef"]["value"]
        for line in receipt["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]
    assert items == sold
    # The same tax treatment: the US fold puts no sales tax on top of either.
    assert money(back["TxnTaxDetail"]["TotalTax"]) == money(receipt["TxnTaxDetail"]["TotalTax"])


async def test_partial_refunds_add_up_and_an_over_refund_is_refused(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, payment_event("p1"))
    await settle(db)
    await post(base, refund("r1", "rf_1", "50.00"))
    await post(base, refund("r2", "rf_2", "30.01"))
    await settle(db)
    await post(base, refund("r3", "rf_3", "48.24"))  # 128.25 in all: one cent too many
    await settle(db)
    backs = await qbo.all("RefundReceipt")
    assert sorted(money(b["TotalAmt"]) for b in backs) == [D("30.01"), D("50.00")]
    refused = await _entry(db, "refund", "rf_3")
    assert refused.state is SyncState.FAILED
    assert "more than the payment's" in (refused.message or ""), refused.message
    # The rest of the payment can still be refunded.
    await post(base, refund("r4", "rf_4", "48.23"))
    await settle(db)
    assert (await _entry(db, "refund", "rf_4")).state is SyncState.SYNCED
    total = sum((money(b["TotalAmt"]) for b in await qbo.all("RefundReceipt")), D(0))
    assert total == D("128.24")


@pytest.mark.parametrize("mode", ["fold", "post"])
async def test_us_pro_rata_refund_keeps_the_tax_treatment(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, mode: str
) -> None:
    base, _ = live_service
    async with httpx.AsyncClient() as http:
        body = {"us_tax_mode": mode}
        answer = await http.patch(f"{base}/v1/connections/loc_1", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
    await post(base, payment_event("p1"))  # 2 x 50.00 at 8.25 % + 19.99: 128.24, tax 8.25
    await settle(db)
    await post(base, refund("r1", "rf_1", "64.12"))  # half
    await settle(db)
    entry = await _entry(db, "refund", "rf_1")
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    back = await qbo.one("RefundReceipt")
    assert money(back["TotalAmt"]) == D("64.12")
    tax = money(back["TxnTaxDetail"]["TotalTax"])
    # Folded: no sales tax on top; posted: half the receipt's tax (to the cent), as sales tax.
    if mode == "fold":
        assert tax == 0
    else:
        sold = money((await qbo.one("SalesReceipt"))["TxnTaxDetail"]["TotalTax"])
        assert abs(tax - sold / 2) <= D("0.01"), (tax, sold)
        assert tax > 0


async def test_partial_refund_with_its_own_lines(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, payment_event("p1"))
    await settle(db)
    lines = [{"name": "Travel", "quantity": 1, "unit_price": "19.99", "taxes": []}]
    await post(base, refund("r1", "rf_1", "19.99", line_items=lines))
    await settle(db)
    assert (await _entry(db, "refund", "rf_1")).state is SyncState.SYNCED
    back = await qbo.one("RefundReceipt")
    assert money(back["TotalAmt"]) == D("19.99")
    [line] = [x for x in back["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert line["SalesItemLineDetail"]["ItemRef"]["name"] == "Travel"


async def test_refund_before_its_payment_waits_for_it(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    assert (await post(base, refund("r1", "rf_1", "28.24"))).status_code == 202
    assert (await post(base, payment_event("p1"))).status_code == 202
    await settle(db, timeout_s=60)
    assert (await _entry(db, "sales_receipt", "pay_1")).state is SyncState.SYNCED
    assert (await _entry(db, "refund", "rf_1")).state is SyncState.SYNCED
    assert money((await qbo.one("RefundReceipt"))["TotalAmt"]) == D("28.24")


async def test_refund_of_a_payment_that_never_comes_fails_with_the_reason(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, refund("r1", "rf_1", "10.00", payment_id="pay_never"))
    await settle(db, timeout_s=90)
    entry = await _entry(db, "refund", "rf_1")
    assert entry.state is SyncState.FAILED
    assert "pay_never has not arrived" in (entry.message or ""), entry.message
    assert await qbo.all("RefundReceipt") == []


async def test_duplicate_refund_event_makes_one_refund_receipt(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, payment_event("p1"))
    await settle(db)
    await post(base, refund("r1", "rf_1", "20.00"))
    await post(base, refund("r1-again", "rf_1", "20.00"))
    await settle(db)
    assert len(await qbo.all("RefundReceipt")) == 1
    states = [e.state for e in await entries(db) if e.kind == "refund"]
    assert states == [SyncState.SYNCED, SyncState.SKIPPED]


@pytest.mark.parametrize("lost", ["drop_after_write", "500_after_write"])
async def test_lost_refund_answer_without_replay_makes_one_object(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await post(base, payment_event("p1"))
    await settle(db)
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        path = f"/_emulator/companies/{qbo.realm}"
        assert (await http.patch(path, json={"honor_requestid": False})).status_code == 200
        fault = {"kind": lost, "count": 1}
        assert (await http.post(f"{path}/faults", json=fault)).status_code == 200
    await post(base, refund("r1", "rf_1", "20.00"))
    await settle(db, timeout_s=60)
    assert (await _entry(db, "refund", "rf_1")).state is SyncState.SYNCED
    assert len(await qbo.all("RefundReceipt")) == 1


# --- invoice.deleted -------------------------------------------------------------------------

LINES = [{"name": "Consultation", "quantity": 3, "unit_price": "9.99", "taxes": []}]


def invoice(event_id: str, type_: str = "invoice.sent", **data: Any) -> dict[str, Any]:
    base = {
        "line_items": LINES,
        "discount": None,
        "totals": {
            "subtotal": "29.97",
            "discount": "0.00",
            "tax": "0.00",
            "total": "29.97",
            "amount_paid": "0.00",
            "amount_due": "29.97",
        },
        "created_at": "2099-01-01T00:00:00Z",
        "updated_at": "2099-01-01T00:00:00Z",
    }
    return invoice_event(event_id, type_, **(base | data))


def deleted(event_id: str, crm_id: str = "inv_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "invoice.deleted",
        "occurred_at": "2099-01-02T00:00:00Z",
        "location_id": "loc_1",
        "data": {"id": crm_id, "deleted_at": "2099-01-02T00:00:00Z"},
    }


async def test_deleting_a_synced_invoice_voids_it_and_its_payments(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, invoice("i1"))
    await settle(db)
    paid = invoice("i2", "invoice.partially_paid", updated_at="2099-01-01T01:00:00Z")
    paid["data"]["totals"] = paid["data"]["totals"] | {
        "amount_paid": "10.00",
        "amount_due": "19.97",
    }
    await post(base, paid)
    await settle(db)
    assert money((await qbo.one("Payment"))["TotalAmt"]) == D("10.00")
    await post(base, deleted("d1"))
    await settle(db)
    entry = (await entries(db))[-1]
    assert (entry.kind, entry.state) == ("invoice", SyncState.SYNCED), entry.message
    voided = await qbo.one("Invoice")
    assert money(voided["TotalAmt"]) == D(0)
    assert voided["PrivateNote"].startswith("Voided")
    assert money((await qbo.one("Payment"))["TotalAmt"]) == D(0)
    # A snapshot sent after the delete changes nothing.
    await post(base, invoice("i3", "invoice.updated", updated_at="2099-01-03T00:00:00Z"))
    await settle(db)
    assert money((await qbo.one("Invoice"))["TotalAmt"]) == D(0)


async def test_deleting_an_invoice_never_synced_keeps_it_out(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, deleted("d1"))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SKIPPED
    # The older "sent" snapshot arriving late must not create it.
    await post(base, invoice("i1"))
    await settle(db)
    assert await qbo.all("Invoice") == []
    assert (await entries(db))[-1].state is SyncState.SKIPPED


# --- refund of an invoice payment --------------------------------------------------------------


def _paid_invoice(event_id: str) -> dict[str, Any]:
    paid = invoice(event_id, "invoice.paid", updated_at="2099-01-01T01:00:00Z")
    paid["data"]["totals"] = paid["data"]["totals"] | {"amount_paid": "29.97", "amount_due": "0.00"}
    return paid


def _invoice_payment(event_id: str) -> dict[str, Any]:
    return payment_event(
        event_id,
        source="invoice",
        invoice_id="inv_1",
        line_items=LINES,
        totals={"subtotal": "29.97", "discount": "0.00", "tax": "0.00", "total": "29.97"},
    )


async def _balance(qbo: Qbo, entity: str, field: str = "Balance") -> Decimal:
    return money((await qbo.one(entity)).get(field, 0))


async def test_refund_of_an_invoice_payment_leaves_ar_and_the_customer_right(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, invoice("i1"))
    await settle(db)
    await post(base, _paid_invoice("i2"))
    await post(base, _invoice_payment("p1"))
    await settle(db)
    await post(base, refund("r1", "rf_1", "10.00"))
    await settle(db)
    entry = await _entry(db, "refund", "rf_1")
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    memo = await qbo.one("CreditMemo")
    assert entry.qbo_id == memo["Id"]
    assert money(memo["TotalAmt"]) == D("10.00")
    assert money(memo["RemainingCredit"]) == 0  # used by the linking payment
    expense = await qbo.one("Purchase")
    assert money(expense["TotalAmt"]) == D("10.00")
    assert expense["AccountRef"]["name"] == "Checking"
    [line] = expense["Line"]
    assert line["AccountBasedExpenseLineDetail"]["AccountRef"]["name"].startswith("Accounts Rec")
    payments = sorted(money(p["TotalAmt"]) for p in await qbo.all("Payment"))
    assert payments == [D(0), D("29.97")]
    # The invoice stays paid (the CRM's amount due is 0) and the customer owes nothing.
    assert await _balance(qbo, "Invoice") == 0
    assert await _balance(qbo, "Customer") == 0


async def test_invoice_payment_refund_before_the_payment_reaches_qbo_waits(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, _invoice_payment("p1"))
    await post(base, refund("r1", "rf_1", "29.97"))
    await post(base, invoice("i1"))
    await post(base, _paid_invoice("i2"))
    await settle(db, timeout_s=60)
    assert (await _entry(db, "refund", "rf_1")).state is SyncState.SYNCED
    assert money((await qbo.one("CreditMemo"))["TotalAmt"]) == D("29.97")
    assert await _balance(qbo, "Customer") == 0


async def test_invoice_payment_over_refund_is_refused(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, invoice("i1"))
    await post(base, _paid_invoice("i2"))
    await post(base, _invoice_payment("p1"))
    await settle(db)
    await post(base, refund("r1", "rf_1", "29.98"))
    await settle(db)
    entry = await _entry(db, "refund", "rf_1")
    assert entry.state is SyncState.FAILED
    assert "more than the payment's" in (entry.message or ""), entry.message
    assert await qbo.all("CreditMemo") == []


@pytest.mark.parametrize("lost", ["drop_after_write", "500_after_write"])
async def test_lost_credit_memo_answer_without_replay_makes_one_of_each(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await post(base, invoice("i1"))
    await post(base, _paid_invoice("i2"))
    await post(base, _invoice_payment("p1"))
    await settle(db)
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        path = f"/_emulator/companies/{qbo.realm}"
        assert (await http.patch(path, json={"honor_requestid": False})).status_code == 200
        fault = {"kind": lost, "count": 1}
        assert (await http.post(f"{path}/faults", json=fault)).status_code == 200
    await post(base, refund("r1", "rf_1", "10.00"))
    await settle(db, timeout_s=60)
    assert (await _entry(db, "refund", "rf_1")).state is SyncState.SYNCED
    assert len(await qbo.all("CreditMemo")) == 1
    assert len(await qbo.all("Purchase")) == 1
    assert len(await qbo.all("Payment")) == 2
    assert await _balance(qbo, "Customer") == 0
