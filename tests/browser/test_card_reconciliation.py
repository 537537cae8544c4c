"""The reconciliation report on the card in a real browser: a period run, an invoice a user
edited in QuickBooks shown as changed, and its Re-sync button putting the CRM's version back."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from app.config import Settings
from tests.browser.browser import card_link, connect_from_card, needs_chromium, shot
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.e2e.test_reconciliation import invoice, user_deletes, user_edits_quantity

pytestmark = [pytest.mark.slow, needs_chromium]

# QBS_DOC_SCREENSHOTS=1 refreshes the README's picture of the page.
DOC_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "reconciliation.png"


@pytest.fixture
def run_worker() -> bool:
    return True


async def test_reconciliation_page_on_the_card(
    live_service: tuple[str, Settings], emulator: str, page: Page, db: object
) -> None:
    base, _ = live_service
    realm = await connect_from_card(page, base, emulator)
    for n in (1, 2, 3):
        assert (await post(base, invoice(n))).status_code == 202
    await settle(db)  # type: ignore[arg-type]
    qbo = Qbo(emulator, realm)
    invoices = {i["DocNumber"]: i["Id"] for i in await qbo.all("Invoice")}
    await user_edits_quantity(qbo, invoices["INV-1"], 5)
    await user_deletes(qbo, "Invoice", invoices["INV-2"])

    await page.goto(await card_link(base))
    await page.get_by_role("link", name="Open the reconciliation report").click()
    await page.get_by_label("From").fill("2026-11-01")
    await page.get_by_label("To").fill("2026-11-30")
    await page.get_by_role("button", name="Run the report").click()
    table = page.locator("table").nth(1)
    await expect(table).to_contain_text("Changed in QuickBooks")
    await expect(table).to_contain_text("total: CRM 29.97, QuickBooks 49.95")
    await shot(page, "reconciliation")
    if os.environ.get("QBS_DOC_SCREENSHOTS") == "1":
        DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
        # Wide enough for every column: at the card's 900 px the Re-sync buttons scroll.
        await page.set_viewport_size({"width": 1280, "height": 1000})
        await page.screenshot(path=str(DOC_SHOT), full_page=True)

    await page.get_by_role("button", name="Re-sync Invoice INV-1").click()
    await expect(page.get_by_role("status")).to_contain_text("Re-sync queued")
    await settle(db)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=emulator) as http:
        found = await http.get(f"/_emulator/companies/{realm}/entities/Invoice/{invoices['INV-1']}")
    assert str(found.json()["Invoice"]["TotalAmt"]) in ("29.97", "29.970")
