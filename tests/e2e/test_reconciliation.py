"""The reconciliation report end to end: CRM events synced into the emulator, a QuickBooks user
editing one invoice's amount and deleting another (the emulator's control API, as a person in
QuickBooks would), the report saying so, and Re-sync putting the CRM's version back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.session import SessionFactory
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.fixtures.connect import AUTH
from tests.fixtures.events import invoice_event, payment_event

pytestmark = pytest.mark.slow

PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
LINES = [{"name": "Consultation", "quantity": 3, "unit_price": "9.99", "taxes": []}]
TOTALS = {
    "subtotal": "29.97",
    "discount": "0.00",
    "tax": "0.00",
    "total": "29.97",
    "amount_paid": "0.00",
    "amount_due": "29.97",
}


def invoice(n: int) -> dict[str, Any]:
    return invoice_event(
        f"evt_inv_{n}",
        id=f"inv_{n}",
        number=f"INV-{n}",
        issue_date=f"2026-11-0{n}",
        created_at="2099-01-01T00:00:00Z",
        updated_at="2099-01-01T00:00:00Z",
        line_items=LINES,
        discount=None,
        totals=TOTALS,
    )


async def report(base: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.get(
            f"{base}/v1/connections/loc_1/reconciliation", params=params or PERIOD, headers=AUTH
        )


async def lines(base: str) -> dict[str, dict[str, Any]]:
    response = await report(base)
    assert response.status_code == 200, response.text
    return {line["crm_id"]: line for line in response.json()["lines"]}


async def resync(base: str, kind: str, crm_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections/loc_1/reconciliation/resync",
            json={"kind": kind, "crm_id": crm_id},
            headers=AUTH,
        )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def user_edits_quantity(qbo: Qbo, invoice_id: str, quantity: int) -> None:
    """A person in QuickBooks changes the first line's quantity (and so the amount)."""
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        current = (
            await http.get(f"/_emulator/companies/{qbo.realm}/entities/Invoice/{invoice_id}")
        ).json()["Invoice"]
        line = next(x for x in current["Line"] if x["DetailType"] == "SalesItemLineDetail")
        detail = line["SalesItemLineDetail"]
        price = Decimal(str(detail["UnitPrice"]))
        changed = {
            **line,
            "Amount": str(price * quantity),
            "SalesItemLineDetail": {**detail, "Qty": quantity},
        }
        response = await http.patch(
            f"/_emulator/companies/{qbo.realm}/entities/Invoice/{invoice_id}",
            json={"Line": [changed]},
        )
    assert response.status_code == 200, response.text


async def user_deletes(qbo: Qbo, entity: str, entity_id: str) -> None:
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        response = await http.delete(
            f"/_emulator/companies/{qbo.realm}/entities/{entity}/{entity_id}"
        )
    assert response.status_code == 200, response.text


def by_number(invoices: list[dict[str, Any]], number: str) -> list[dict[str, Any]]:
    return [i for i in invoices if i.get("DocNumber") == number]


async def test_edited_and_deleted_invoices_are_reported_and_resync_restores_them(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    for n in (1, 2, 3):
        assert (await post(base, invoice(n))).status_code == 202
    payment = payment_event(created_at="2099-01-01T00:00:00Z", paid_at="2026-11-05T10:00:00Z")
    assert (await post(base, payment)).status_code == 202
    await settle(db)

    before = await lines(base)
    assert {k: v["verdict"] for k, v in before.items()} == {
        "inv_1": "matched",
        "inv_2": "matched",
        "inv_3": "matched",
        "pay_1": "matched",
    }
    edited_id, deleted_id = before["inv_1"]["qbo"]["id"], before["inv_2"]["qbo"]["id"]

    await user_edits_quantity(qbo, edited_id, 5)
    await user_deletes(qbo, "Invoice", deleted_id)
    response = await report(base)
    body = response.json()
    after = {line["crm_id"]: line for line in body["lines"]}
    assert after["inv_1"]["verdict"] == "changed_in_qbo"
    assert {"field": "total", "crm": "29.97", "qbo": "49.95"} in after["inv_1"]["differences"]
    assert after["inv_2"]["verdict"] == "changed_in_qbo"
    assert after["inv_2"]["differences"][0]["field"] == "deleted"
    assert after["inv_3"]["verdict"] == "matched"
    assert after["inv_1"]["resync"]
    assert after["inv_2"]["resync"]
    assert not after["inv_3"]["resync"]
    changed = body["summary"]["by_verdict"]["changed_in_qbo"]
    assert changed["count"] == 2
    assert changed["by_currency"]["USD"]["crm_total"] == "59.94"
    assert body["progress"] == {"done": 4, "total": 4}

    assert (await resync(base, "invoice", "inv_1"))["action"] == "rewrite"
    assert (await resync(base, "invoice", "inv_2"))["action"] == "recreate"
    await settle(db)
    invoices = await qbo.all("Invoice")
    [restored] = by_number(invoices, "INV-1")
    assert restored["Id"] == edited_id
    assert Decimal(str(restored["TotalAmt"])) == Decimal("29.97")
    [recreated] = by_number(invoices, "INV-2")
    assert recreated["Id"] != deleted_id
    assert Decimal(str(recreated["TotalAmt"])) == Decimal("29.97")

    # A second click (the report still showed it deleted) finds the new invoice: no twin.
    assert (await resync(base, "invoice", "inv_2"))["action"] == "rewrite"
    await settle(db)
    assert len(by_number(await qbo.all("Invoice"), "INV-2")) == 1
    final = await lines(base)
    assert {v["verdict"] for v in final.values()} == {"matched"}


async def test_bad_periods_are_refused_with_the_field(
    live_service: tuple[str, Settings], connected_realm: str
) -> None:
    base, _ = live_service
    response = await report(base, **{"from": "2026-13-01", "to": "2026-11-30"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "query.from"
    response = await report(base, **{"from": "2026-11-30", "to": "2026-11-01"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"path": "query.to", "message": "`to` is before `from`"}]


async def test_a_failed_document_is_missing_with_its_reason_and_resync_is_refused_for_unknown(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    broken = invoice(4)
    broken["data"]["totals"] = {**TOTALS, "total": "30.00", "amount_due": "30.00"}
    assert (await post(base, broken)).status_code == 202
    draft = invoice(5)
    draft["data"]["status"] = "draft"
    assert (await post(base, draft)).status_code == 202
    await settle(db)
    found = await lines(base)
    assert found["inv_4"]["verdict"] == "missing_in_qbo"
    assert found["inv_4"]["reason"]
    assert found["inv_5"]["verdict"] == "skipped"
    assert "not sent yet" in found["inv_5"]["reason"]
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections/loc_1/reconciliation/resync",
            json={"kind": "invoice", "crm_id": "inv_999"},
            headers=AUTH,
        )
    assert response.status_code == 404
