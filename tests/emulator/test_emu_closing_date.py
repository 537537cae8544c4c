"""The books' closing date: transactions dated on or before it are refused with QBO's
"Account Period Closed" fault (qbo_emulator/faults.py period_closed: a real answer reported in
routablehq/python-quickbooks issue #208); later ones are accepted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from qbo_emulator.state import Emulator
from tests.emulator.conftest import QBO, new_company

CLOSED = "2026-10-31"


def invoice(customer: str, item: str, txn_date: str) -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": "10.00",
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": "10.00"},
    }
    return {"CustomerRef": {"value": customer}, "TxnDate": txn_date, "Line": [line]}


async def closed_company(http: httpx.AsyncClient, emu: Emulator) -> tuple[QBO, str, str]:
    qbo = await new_company(http, emu, country="US", book_close_date=CLOSED)
    customer = (await qbo.create("Customer", {"DisplayName": "Closing Ltd"}))["Id"]
    items = (await qbo.query("select * from Item")).json()["QueryResponse"]["Item"]
    return qbo, customer, items[0]["Id"]


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return body


async def test_an_invoice_dated_on_the_closing_date_is_refused(
    http: httpx.AsyncClient, emu: Emulator
) -> None:
    qbo, customer, item = await closed_company(http, emu)
    refused = await qbo.post("/invoice", invoice(customer, item, CLOSED))
    assert refused.status_code == 400
    assert (error(refused)["code"], error(refused)["Message"]) == ("5010", "Account Period Closed")
    assert error(refused)["Detail"] == "The account period has closed. {1}"
    empty = (await qbo.query("select * from Invoice")).json()["QueryResponse"]
    assert "Invoice" not in empty
    accepted = await qbo.post("/invoice", invoice(customer, item, "2026-11-01"))
    assert accepted.status_code == 200, accepted.text


async def test_a_document_cannot_be_moved_into_or_changed_in_a_closed_period(
    http: httpx.AsyncClient, emu: Emulator
) -> None:
    qbo, customer, item = await closed_company(http, emu)
    made = await qbo.create("Invoice", invoice(customer, item, "2026-11-01"))
    moved = {"Id": made["Id"], "SyncToken": "0", "sparse": True, "TxnDate": "2026-10-30"}
    assert error(await qbo.post("/invoice", moved))["code"] == "5010"
    # The closing date moves past the invoice: voiding it is now refused too.
    response = await http.patch(
        f"/_emulator/companies/{qbo.realm}", json={"book_close_date": "2026-11-30"}
    )
    assert response.status_code == 200, response.text
    void = await qbo.post("/invoice", {"Id": made["Id"], "SyncToken": "0"}, operation="void")
    assert error(void)["Message"] == "Account Period Closed"
    assert Decimal(str((await qbo.read("Invoice", made["Id"]))["TotalAmt"])) == Decimal("10.00")
