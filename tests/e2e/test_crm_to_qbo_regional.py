"""S4 outside the US, end to end: discount line, tax codes per line, totals to the cent."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.session import SessionFactory
from app.models.states import SyncState
from qbo_emulator.config import EmulatorConfig
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import browse, describe, start_connect
from tests.fixtures.events import invoice_event, payment_event

pytestmark = pytest.mark.slow

TAX_CODES = [
    {"name": "20.0% S", "rate": "20"},
    {"name": "5.0% R", "rate": "5"},
    {"name": "No VAT", "rate": "0"},
]


@pytest.fixture
def emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    return replace(emulator_config, auto_consent=True)


@pytest.fixture
async def qbo(live_service: tuple[str, Settings], emulator: str) -> Qbo:
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.post(
            "/_emulator/companies",
            json={"country": "GB", "currency": "GBP", "tax_codes": TAX_CODES, "name": "UK Ltd"},
        )
    realm = response.json()["realm_id"]
    base, _ = live_service
    visited = await browse((await start_connect(base))["connect_url"])
    assert "status=connected" in visited[-1], visited
    facts = await describe(base)
    assert facts["realm_id"] == realm
    assert facts["company"]["country"] != "US"
    return Qbo(emulator, realm)


def gb_invoice(
    event_id: str, lines: list[dict[str, Any]], discount: Any, totals: dict[str, str]
) -> dict[str, Any]:
    return invoice_event(
        event_id,
        currency="GBP",
        line_items=lines,
        discount=discount,
        totals=totals | {"amount_paid": "0.00", "amount_due": totals["total"]},
        created_at="2099-01-01T00:00:00Z",
    )


VAT = [{"name": "VAT", "rate": "20", "inclusive": False}]
REDUCED = [{"name": "Reduced VAT", "rate": "5", "inclusive": False}]


async def test_percent_discount_and_two_rates_match_to_the_penny(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    lines = [
        {"name": "Design", "quantity": 2, "unit_price": "50.00", "taxes": VAT},
        {"name": "Books", "quantity": 1, "unit_price": "19.99", "taxes": REDUCED},
    ]
    totals = {"subtotal": "119.99", "discount": "12.00", "tax": "18.90", "total": "126.89"}
    await post(base, gb_invoice("g1", lines, {"type": "percentage", "value": "10"}, totals))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    invoice = await qbo.one("Invoice")
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("126.89")
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    kinds = [line["DetailType"] for line in invoice["Line"]]
    assert "DiscountLineDetail" in kinds


async def test_inclusive_taxes_and_a_fixed_discount(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    inclusive = [{"name": "VAT", "rate": "20", "inclusive": True}]
    lines = [{"name": "Ticket", "quantity": 3, "unit_price": "9.99", "taxes": inclusive}]
    # 29.97 gross, 5.00 off -> 24.97 charged, of which VAT 24.97/6 = 4.16.
    totals = {"subtotal": "29.97", "discount": "5.00", "tax": "4.16", "total": "24.97"}
    await post(base, gb_invoice("g2", lines, {"type": "fixed", "value": "5.00"}, totals))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    invoice = await qbo.one("Invoice")
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("24.97")
    assert invoice["GlobalTaxCalculation"] == "TaxInclusive"


async def test_a_rate_the_company_lacks_fails_with_the_rate_named(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    odd = [{"name": "City tax", "rate": "7.5", "inclusive": False}]
    lines = [{"name": "Room", "quantity": 1, "unit_price": "100.00", "taxes": odd}]
    totals = {"subtotal": "100.00", "discount": "0.00", "tax": "7.50", "total": "107.50"}
    await post(base, gb_invoice("g3", lines, None, totals))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.FAILED
    assert "7.5" in (entry.message or "")
    assert await qbo.all("Invoice") == []


async def test_sales_receipt_with_vat(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    lines = [{"name": "Course", "quantity": 1, "unit_price": "40.00", "taxes": VAT}]
    await post(
        base,
        payment_event(
            currency="GBP",
            line_items=lines,
            totals={"subtotal": "40.00", "discount": "0.00", "tax": "8.00", "total": "48.00"},
        ),
    )
    await settle(db)
    receipt = await qbo.one("SalesReceipt")
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("48.00")
