"""Exactly once without requestid replay: a create whose answer is lost after QBO committed it is
found again on the retry, never made twice; and a create that answers costs no lookup.

Each test turns requestid replay off (`honor_requestid=false`, the reports in qbo-api.md
Corrections 7) and, for invoices, the duplicate-number warning (Corrections 6), then loses the
answer of exactly one create (`drop_after_write`: the connection drops after the commit;
`500_after_write`: a 500 comes back after the commit).
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
from tests.fixtures.events import invoice_event, payment_event
from tests.fixtures.live import free_port, live_settings, serve

pytestmark = pytest.mark.slow

LOST = ["drop_after_write", "500_after_write"]
LINES = [{"name": "Consultation", "quantity": 3, "unit_price": "9.99", "taxes": []}]


@pytest.fixture
def live_service(
    database_url: str, db: object, emulator: str, tmp_path: Path
) -> Iterator[tuple[str, Settings]]:
    """The live service with its worker, retrying quickly, and a short settle time (an
    unanswered create is looked up 0.5 s after it was sent, instead of QBO's 120 s + margin)."""
    port = free_port()
    settings = live_settings(database_url, tmp_path / "data", emulator, port)
    settings.worker.poll_interval_s = 0.1
    settings.worker.retry_base_s = 0.2
    settings.qbo.write_settle_s = 0.5
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, port) as url:
        yield url, settings


def totals(total: str, paid: str = "0.00") -> dict[str, str]:
    return {
        "subtotal": total,
        "discount": "0.00",
        "tax": "0.00",
        "total": total,
        "amount_paid": paid,
        "amount_due": str(Decimal(total) - Decimal(paid)),
    }


def invoice(event_id: str, crm_id: str, number: str, **data: Any) -> dict[str, Any]:
    base = {
        "id": crm_id,
        "number": number,
        "line_items": LINES,
        "discount": None,
        "totals": totals("29.97"),
        "created_at": "2099-01-01T00:00:00Z",
        "updated_at": "2099-01-01T00:00:00Z",
    }
    return invoice_event(event_id, **(base | data))


def receipt(event_id: str, crm_id: str) -> dict[str, Any]:
    return payment_event(
        event_id,
        id=crm_id,
        reference=None,
        line_items=LINES,
        totals={"subtotal": "29.97", "discount": "0.00", "tax": "0.00", "total": "29.97"},
    )


async def _emulator(qbo: Qbo, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        response = await http.request(method, f"/_emulator/companies/{qbo.realm}{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _no_replay(qbo: Qbo) -> None:
    await _emulator(
        qbo, "PATCH", "", {"honor_requestid": False, "warn_duplicate_doc_number": False}
    )


async def _lose_next_write(qbo: Qbo, kind: str) -> None:
    await _emulator(qbo, "POST", "/faults", {"kind": kind, "count": 1})


async def _warm(base: str, db: SessionFactory) -> None:
    """Customer and item linked by a first invoice, so the next write is the one under test."""
    assert (await post(base, invoice("e0", "inv_0", "INV-0"))).status_code == 202
    await settle(db)


async def _all_synced(db: SessionFactory) -> None:
    await settle(db, timeout_s=60)
    states = [(e.kind, e.crm_id, e.state, e.message) for e in await entries(db)]
    assert all(state is SyncState.SYNCED for _, _, state, _ in states), states


@pytest.mark.parametrize("lost", LOST)
async def test_a_lost_invoice_create_makes_one_invoice(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    await _lose_next_write(qbo, lost)
    await post(base, invoice("e1", "inv_1", "INV-1"))
    await _all_synced(db)
    invoices = await qbo.all("Invoice")
    assert sorted(i["DocNumber"] for i in invoices) == ["INV-0", "INV-1"]
    assert all(Decimal(str(i["TotalAmt"])) == Decimal("29.97") for i in invoices)


@pytest.mark.parametrize("lost", LOST)
async def test_a_lost_sales_receipt_create_makes_one_receipt(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    await _lose_next_write(qbo, lost)
    await post(base, receipt("p1", "pay_1"))
    await _all_synced(db)
    [only] = await qbo.all("SalesReceipt")
    assert Decimal(str(only["TotalAmt"])) == Decimal("29.97")
    assert "[qbo-sync payment pay_1]" in only["PrivateNote"]


@pytest.mark.parametrize("lost", LOST)
async def test_a_lost_invoice_payment_create_pays_once(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    await _lose_next_write(qbo, lost)
    paid = invoice(
        "e1", "inv_0", "INV-0", updated_at="2099-01-02T00:00:00Z", totals=totals("29.97", "10.00")
    )
    paid["type"] = "invoice.updated"
    await post(base, paid)
    await _all_synced(db)
    [payment] = await qbo.all("Payment")
    assert Decimal(str(payment["TotalAmt"])) == Decimal("10.00")
    assert Decimal(str((await qbo.one("Invoice"))["Balance"])) == Decimal("19.97")


@pytest.mark.parametrize("lost", LOST)
async def test_a_lost_item_create_makes_one_item(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, lost: str
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    await _lose_next_write(qbo, lost)
    lines = [*LINES, {"name": "Workshop", "quantity": 1, "unit_price": "10.00", "taxes": []}]
    await post(base, invoice("e1", "inv_1", "INV-1", line_items=lines, totals=totals("39.97")))
    await _all_synced(db)
    workshops = [i for i in await qbo.all("Item") if i["Name"].startswith("Workshop")]
    assert len(workshops) == 1, workshops
    invoice_1 = next(i for i in await qbo.all("Invoice") if i["DocNumber"] == "INV-1")
    assert Decimal(str(invoice_1["TotalAmt"])) == Decimal("39.97")


async def test_creates_that_answer_cost_no_lookup(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    await _emulator(qbo, "DELETE", "/requests")
    await post(base, invoice("e1", "inv_1", "INV-1", totals=totals("29.97", "5.00")))
    await post(base, receipt("p1", "pay_1"))
    await _all_synced(db)
    log = await _emulator(qbo, "GET", "/requests")
    paths = sorted(f"{r['method']} {r['path']}" for r in log["requests"])
    assert paths == ["POST /invoice", "POST /payment", "POST /salesreceipt"], paths
    assert len(await qbo.all("Payment")) == 1
    assert len(await qbo.all("SalesReceipt")) == 1
