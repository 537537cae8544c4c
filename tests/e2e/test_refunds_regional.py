"""Refunds in an Australian company: tax-inclusive prices refunded in QBO's stored form, to the
cent, whole or pro rata."""

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
from tests.fixtures.events import payment_event, refund_event

pytestmark = pytest.mark.slow

GST = [{"name": "GST", "rate": "10", "inclusive": True}]
# Two lines of real AU invoice 2508 (tests/e2e/test_tax_forms.py): 305.46 and 87.50 gross.
LINES = [
    {"name": "MIG wire", "quantity": 3, "unit_price": "101.82", "taxes": GST},
    {"name": "Gas nozzle", "quantity": 2, "unit_price": "43.75", "taxes": GST},
]
TOTALS = {"subtotal": "392.96", "discount": "0.00", "tax": "35.72", "total": "392.96"}


@pytest.fixture
def emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    return replace(emulator_config, auto_consent=True)


@pytest.fixture
async def qbo(live_service: tuple[str, Settings], emulator: str) -> Qbo:
    codes = [{"name": "GST", "rate": "10"}, {"name": "GST free", "rate": "0"}]
    async with httpx.AsyncClient(base_url=emulator) as http:
        response = await http.post(
            "/_emulator/companies",
            json={"country": "AU", "currency": "AUD", "tax_codes": codes, "name": "AU Pty"},
        )
    realm = response.json()["realm_id"]
    base, _ = live_service
    visited = await browse((await start_connect(base))["connect_url"])
    assert "status=connected" in visited[-1], visited
    assert (await describe(base))["realm_id"] == realm
    return Qbo(emulator, realm)


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize("amount", ["392.96", "100.00", "0.07"])
async def test_tax_inclusive_refund_matches_to_the_cent(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory, amount: str
) -> None:
    base, _ = live_service
    sale = payment_event("p1", currency="AUD", line_items=LINES, totals=TOTALS)
    await post(base, sale)
    await settle(db)
    await post(base, refund_event("r1", currency="AUD", amount=amount))
    await settle(db)
    states = [(e.kind, e.state, e.message) for e in await entries(db)]
    assert all(state is SyncState.SYNCED for _, state, _ in states), states
    back = await qbo.one("RefundReceipt")
    assert money(back["TotalAmt"]) == Decimal(amount)
    assert back["GlobalTaxCalculation"] == "TaxInclusive"
    sales = [line for line in back["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    gross = sum((money(x["SalesItemLineDetail"]["TaxInclusiveAmt"]) for x in sales), Decimal(0))
    assert gross == Decimal(amount)
