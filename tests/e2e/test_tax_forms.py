"""Tax end to end against the emulator: US sales tax posted as tax (the connection's
us_tax_mode), and a tax-inclusive document in QBO's stored form (net lines, gross beside them)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import Settings
from app.db.session import SessionFactory
from app.models.states import SyncState
from qbo_emulator.config import EmulatorConfig
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import AUTH, browse, describe, start_connect
from tests.fixtures.events import invoice_event

pytestmark = pytest.mark.slow

D = Decimal


def money(value: Any) -> Decimal:
    return Decimal(str(value))


async def patch_connection(base: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.patch(f"{base}/v1/connections/loc_1", json=body, headers=AUTH)


async def test_us_tax_mode_is_validated_and_shown(
    live_service: tuple[str, Settings], qbo: Qbo
) -> None:
    base, _ = live_service
    assert (await describe(base))["us_tax_mode"] == "fold"
    refused = await patch_connection(base, {"us_tax_mode": "separate"})
    assert refused.status_code == 422
    assert [e["path"] for e in refused.json()["errors"]] == ["body.us_tax_mode"]
    answer = await patch_connection(base, {"us_tax_mode": "post"})
    assert answer.status_code == 200
    assert answer.json()["us_tax_mode"] == "post"
    assert answer.json()["review_automation"] is False  # left as it was


async def test_the_card_offers_the_choice_to_a_us_company(
    live_service: tuple[str, Settings], qbo: Qbo
) -> None:
    base, _ = live_service
    async with httpx.AsyncClient(base_url=base) as http:
        made = await http.post("/v1/connections/loc_1/card-link", headers=AUTH)
        token = parse_qs(urlsplit(made.json()["url"]).query)["token"][0]
        page = await http.get("/v1/card", params={"token": token})
        assert 'id="us_tax_fold" name="mode" value="fold" checked' in page.text
        odd = await http.post("/v1/card/us-tax-mode", data={"token": token, "mode": "x"})
        assert odd.status_code == 303
        assert "notice=us_tax_unknown" in odd.headers["location"]
        chosen = await http.post("/v1/card/us-tax-mode", data={"token": token, "mode": "post"})
        assert "notice=us_tax_post" in chosen.headers["location"]
        page = await http.get("/v1/card", params={"token": token, "notice": "us_tax_post"})
        assert 'id="us_tax_post" name="mode" value="post" checked' in page.text
        assert "recorded as sales tax" in page.text
    assert (await describe(base))["us_tax_mode"] == "post"


async def test_posted_us_tax_lands_as_sales_tax_and_totals_match(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    assert (await patch_connection(base, {"us_tax_mode": "post"})).status_code == 200
    # 2 x 50.00 at 8.25 % state tax + 19.99 untaxed, 10 % off (12.00), tax 7.43, total 115.42.
    await post(base, invoice_event("t1", created_at="2099-01-01T00:00:00Z"))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    invoice = await qbo.one("Invoice")
    assert money(invoice["TotalAmt"]) == D("115.42")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == D("7.43")
    sales = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [money(line["Amount"]) for line in sales] == [D("100.00"), D("19.99")]
    taxability = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in sales]
    assert taxability == ["TAX", "NON"]
    [discount] = [line for line in invoice["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert money(discount["Amount"]) == D("12.00")


async def test_folded_us_tax_stays_the_default(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await post(base, invoice_event("t2", created_at="2099-01-01T00:00:00Z"))
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
    invoice = await qbo.one("Invoice")
    assert money(invoice["TotalAmt"]) == D("115.42")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == D(0)
    kinds = {line["DetailType"] for line in invoice["Line"]}
    assert "DiscountLineDetail" not in kinds


# --- tax-inclusive, in an Australian company -----------------------------------------------------


class TestTaxInclusive:
    @pytest.fixture
    def emulator_config(self, emulator_config: EmulatorConfig) -> EmulatorConfig:
        return replace(emulator_config, auto_consent=True)

    @pytest.fixture
    async def qbo(self, live_service: tuple[str, Settings], emulator: str) -> Qbo:
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

    async def test_lines_as_qbo_stores_them_and_the_crm_total(
        self, live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
    ) -> None:
        base, _ = live_service
        gst = [{"name": "GST", "rate": "10", "inclusive": True}]
        # Two lines of real AU invoice 2508: 3 x 101.82 = 305.46 and 2 x 43.75 = 87.50 gross.
        lines = [
            {"name": "MIG wire", "quantity": 3, "unit_price": "101.82", "taxes": gst},
            {"name": "Gas nozzle", "quantity": 2, "unit_price": "43.75", "taxes": gst},
        ]
        totals = {"subtotal": "392.96", "discount": "0.00", "tax": "35.72", "total": "392.96",
                  "amount_paid": "0.00", "amount_due": "392.96"}  # fmt: skip
        event = invoice_event(
            "a1", currency="AUD", line_items=lines, discount=None, totals=totals,
            created_at="2099-01-01T00:00:00Z",
        )  # fmt: skip
        await post(base, event)
        await settle(db)
        [entry] = await entries(db)
        assert entry.state is SyncState.SYNCED, (entry.message, entry.details)
        invoice = await qbo.one("Invoice")
        assert invoice["GlobalTaxCalculation"] == "TaxInclusive"
        sales = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        # What QBO stored for these two lines on the real invoice.
        assert [money(line["Amount"]) for line in sales] == [D("277.69"), D("79.55")]
        details = [line["SalesItemLineDetail"] for line in sales]
        assert [money(d["UnitPrice"]) for d in details] == [D("92.5633333"), D("39.775")]
        assert [money(d["TaxInclusiveAmt"]) for d in details] == [D("305.46"), D("87.50")]
        assert money(invoice["TotalAmt"]) == D("392.96")
        assert money(invoice["TxnTaxDetail"]["TotalTax"]) == D("35.72")
