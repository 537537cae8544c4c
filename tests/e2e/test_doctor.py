"""The settings doctor end to end: the emulator's company set up to trip each check, the service
reading it over HTTP, the result stored, shown by the API, the card and the CLI's function."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.config import Settings
from app.db.session import SessionFactory
from app.models import Connection
from app.repositories import connections
from app.repositories import doctor as doctor_rows
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.fixtures.connect import AUTH, browse, describe, start_connect
from tests.fixtures.events import invoice_event, payment_event

pytestmark = pytest.mark.slow

TAXED_LINES = [
    {"name": "Consultation", "quantity": 1, "unit_price": "100.00",
     "taxes": [{"name": "Sales tax", "rate": "7"}]},
]  # fmt: skip
TAXED_TOTALS = {
    "subtotal": "100.00",
    "discount": "0.00",
    "tax": "7.00",
    "total": "107.00",
    "amount_paid": "0.00",
    "amount_due": "107.00",
}


async def doctor(base: str, run: bool = True) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{base}/v1/connections/loc_1/doctor", params={"run": str(run).lower()}, headers=AUTH
        )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def check(result: dict[str, Any], key: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in result["checks"] if c["key"] == key]
    assert found, [c["key"] for c in result["checks"]]
    return found[0]


async def company(emulator: str, realm: str, **settings: Any) -> None:
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.patch(f"/_emulator/companies/{realm}", json=settings)
    assert response.status_code == 200, response.text


async def patch_connection(base: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.patch(f"{base}/v1/connections/loc_1", json=body, headers=AUTH)


async def test_a_fail_is_stored_at_connect_before_the_first_sync(
    live_service: tuple[str, Settings], emulator: str, db: SessionFactory
) -> None:
    """A EUR invoice waiting for the connection, multicurrency off: the doctor queued by the
    connect says so, and the card shows the problem."""
    base, _ = live_service
    link = await start_connect(base)
    euro = invoice_event("e-eur", currency="EUR", created_at="2099-01-01T00:00:00Z")
    assert (await post(base, euro)).status_code == 202
    visited = await browse(link["connect_url"])
    assert "status=connected" in visited[-1], visited
    connection_id = None
    for _ in range(300):  # the connect's doctor job, run by the in-process worker
        async with db() as session:
            connection = await connections.get_by_location(session, "loc_1")
            assert connection is not None
            connection_id = connection.id
            row = await doctor_rows.latest(session, connection.id)
        if row is not None:
            break
        await asyncio.sleep(0.05)
    assert row is not None, connection_id
    assert row.trigger == "connect"
    stored = await doctor(base, run=False)
    assert stored["status"] == "fail"
    multicurrency = check(stored, "multicurrency")
    assert multicurrency["status"] == "fail"
    assert "EUR" in multicurrency["message"]
    async with httpx.AsyncClient() as http:
        link = (await http.post(f"{base}/v1/connections/loc_1/card-link", headers=AUTH)).json()
        page = (await http.get(link["url"])).text
    assert "Health check" in page
    assert "multicurrency is off" in page
    await company(emulator, (await describe(base))["realm_id"], multicurrency=True)
    assert check(await doctor(base), "multicurrency")["status"] == "ok"


async def test_closing_date_from_the_company_preferences(
    live_service: tuple[str, Settings], connected_realm: str, emulator: str, db: SessionFactory
) -> None:
    base, _ = live_service
    assert check(await doctor(base), "closing_date")["status"] == "ok"
    await company(emulator, connected_realm, book_close_date="2026-12-31")
    closed = check(await doctor(base), "closing_date")
    assert closed["status"] == "warn"
    assert "2026-12-31" in closed["message"]
    assert (await post(base, invoice_event("e1"))).status_code == 202  # issued 2026-11-01
    await settle(db)
    closed = check(await doctor(base), "closing_date")
    assert closed["status"] == "fail"
    assert "1 recent CRM document" in closed["message"]


async def test_custom_numbers_and_the_duplicate_number_preference(
    live_service: tuple[str, Settings], connected_realm: str, emulator: str
) -> None:
    base, _ = live_service
    result = await doctor(base)
    assert check(result, "custom_txn_numbers")["status"] == "warn"
    # QBO's API does not expose the duplicate-number warning: always a warning that says so.
    duplicate = check(result, "duplicate_numbers")
    assert duplicate["status"] == "warn"
    assert "does not tell apps" in duplicate["message"]
    await company(emulator, connected_realm, custom_txn_numbers=True)
    assert check(await doctor(base), "custom_txn_numbers")["status"] == "ok"


async def test_us_sales_tax_posted_while_sales_tax_is_off(
    live_service: tuple[str, Settings], connected_realm: str, emulator: str, db: SessionFactory
) -> None:
    base, _ = live_service
    taxed = invoice_event("e1", line_items=TAXED_LINES, discount=None, totals=TAXED_TOTALS)
    assert (await post(base, taxed)).status_code == 202
    await settle(db)
    assert check(await doctor(base), "sales_tax")["status"] == "warn"  # AST on, tax folded
    assert (await patch_connection(base, {"us_tax_mode": "post"})).status_code == 200
    assert check(await doctor(base), "sales_tax")["status"] == "ok"
    await company(emulator, connected_realm, sales_tax=False, automated_sales_tax=False)
    tax = check(await doctor(base), "sales_tax")
    assert tax["status"] == "fail"
    assert "sales tax is off" in tax["message"]


async def test_income_account_missing(
    live_service: tuple[str, Settings], connected_realm: str, qbo: Qbo, emulator: str
) -> None:
    base, _ = live_service
    assert check(await doctor(base), "income_account")["status"] == "ok"
    async with httpx.AsyncClient(base_url=emulator) as http:
        for account in await qbo.all("Account"):
            if account["AccountType"] == "Income":
                url = f"/_emulator/companies/{connected_realm}/entities/Account/{account['Id']}"
                response = await http.patch(url, json={"Active": False})
                assert response.status_code == 200, response.text
    income = check(await doctor(base), "income_account")
    assert income["status"] == "fail"
    assert "no active Income account" in income["message"]


async def test_tokens_webhooks_and_failures(
    live_service: tuple[str, Settings], connected_realm: str, db: SessionFactory
) -> None:
    base, _ = live_service
    result = await doctor(base)
    assert check(result, "refresh_token")["status"] == "ok"
    assert "5-year limit ends it on" in check(result, "refresh_token")["message"]
    assert check(result, "webhooks")["status"] == "warn"  # none received yet
    assert check(result, "failed_entries")["status"] == "ok"
    now = datetime.now(UTC)
    async with db() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.location_id == "loc_1")
            .values(connected_at=now - timedelta(days=5 * 365 - 10))
        )
    assert check(await doctor(base), "refresh_token")["status"] == "warn"
    async with db() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.location_id == "loc_1")
            .values(refresh_token_expires_at=now - timedelta(days=1))
        )
    assert check(await doctor(base), "refresh_token")["status"] == "fail"


async def test_failed_entries_waiting_for_a_retry(
    live_service: tuple[str, Settings], connected_realm: str, db: SessionFactory
) -> None:
    base, _ = live_service
    euro = invoice_event("e-eur", currency="EUR", created_at="2099-01-01T00:00:00Z")
    assert (await post(base, euro)).status_code == 202
    await settle(db)
    failed = check(await doctor(base), "failed_entries")
    assert failed["status"] == "warn"
    assert failed["message"].startswith("1 record")


async def test_deposit_account_chosen_checked_and_used(
    live_service: tuple[str, Settings], connected_realm: str, qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    accounts = {a["Name"]: a for a in await qbo.all("Account")}
    result = await doctor(base)
    assert check(result, "deposit_account")["message"].startswith("Payments go to Undeposited")
    assert {a["name"] for a in result["deposit_accounts"]} == {"Undeposited Funds", "Checking"}
    refused = await patch_connection(base, {"deposit_account_id": accounts["Services"]["Id"]})
    assert refused.status_code == 422, refused.text
    assert "body.deposit_account_id" in refused.text
    assert "Income account" in refused.text
    missing = await patch_connection(base, {"deposit_account_id": "9999"})
    assert missing.status_code == 422
    assert "deposit_account_id" in missing.text
    checking = accounts["Checking"]["Id"]
    chosen = await patch_connection(base, {"deposit_account_id": checking})
    assert chosen.status_code == 200
    assert chosen.json()["deposit_account_id"] == checking
    assert check(await doctor(base), "deposit_account")["status"] == "ok"
    assert (await post(base, payment_event("p1"))).status_code == 202
    await settle(db)
    receipt = await qbo.one("SalesReceipt")
    assert receipt["DepositToAccountRef"]["value"] == checking
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        url = f"/_emulator/companies/{qbo.realm}/entities/Account/{checking}"
        assert (await http.patch(url, json={"Active": False})).status_code == 200
    gone = check(await doctor(base), "deposit_account")
    assert gone["status"] == "fail"
    assert "inactive" in gone["message"]
    back = await patch_connection(base, {"deposit_account_id": None})
    assert back.status_code == 200
    assert back.json()["deposit_account_id"] is None


async def test_non_us_tax_codes_for_every_crm_rate(
    live_service: tuple[str, Settings], emulator: str, db: SessionFactory
) -> None:
    base, _ = live_service
    codes = [{"name": "20.0% S", "rate": "20"}, {"name": "No VAT", "rate": "0"}]
    async with httpx.AsyncClient(base_url=emulator) as http:
        created = await http.post(
            "/_emulator/companies",
            json={"country": "GB", "currency": "GBP", "tax_codes": codes, "name": "UK Ltd"},
        )
    realm = created.json()["realm_id"]
    visited = await browse((await start_connect(base))["connect_url"])
    assert "status=connected" in visited[-1], visited
    assert (await describe(base))["realm_id"] == realm
    assert check(await doctor(base), "tax_codes")["message"].startswith("No CRM documents")
    seven = invoice_event(
        "e7", currency="GBP", line_items=TAXED_LINES, discount=None, totals=TAXED_TOTALS
    )
    assert (await post(base, seven)).status_code == 202
    await settle(db)
    missing = check(await doctor(base), "tax_codes")
    assert missing["status"] == "fail"
    assert "7 %" in missing["message"]
    assert "sales_tax" not in {c["key"] for c in (await doctor(base))["checks"]}


async def test_processor_fee_recorded_so_the_bank_moves_by_what_it_receives(
    live_service: tuple[str, Settings], connected_realm: str, qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    fees = await qbo.create(
        "Account",
        {"Name": "Merchant fees", "AccountType": "Expense", "AccountSubType": "BankCharges"},
    )
    checking = next(a for a in await qbo.all("Account") if a["Name"] == "Checking")["Id"]
    refused = await patch_connection(base, {"fee_expense_account_id": checking})
    assert refused.status_code == 422
    assert "body.fee_expense_account_id" in refused.text
    chosen = await patch_connection(
        base, {"deposit_account_id": checking, "fee_expense_account_id": fees["Id"]}
    )
    assert chosen.status_code == 200, chosen.text
    assert check(await doctor(base), "fee_account")["status"] == "ok"
    assert (await post(base, payment_event("p1", fee="3.47"))).status_code == 202
    await settle(db)
    receipt = await qbo.one("SalesReceipt")
    expense = await qbo.one("Purchase")
    assert receipt["DepositToAccountRef"]["value"] == checking
    assert expense["AccountRef"]["value"] == checking
    assert str(expense["TotalAmt"]) == "3.47"
    line = expense["Line"][0]["AccountBasedExpenseLineDetail"]
    assert line["AccountRef"]["value"] == fees["Id"]
    assert expense["TxnDate"] == receipt["TxnDate"]
