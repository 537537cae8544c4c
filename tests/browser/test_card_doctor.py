"""The card's Health check in a real browser: the doctor's problems shown with what to do, run
again after a fix, and where payments land chosen from the company's accounts."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from app.config import Settings
from tests.browser.browser import card_link, connect_from_card, needs_chromium, shot
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.fixtures.connect import describe
from tests.fixtures.events import invoice_event

pytestmark = [pytest.mark.slow, needs_chromium]

# QBS_DOC_SCREENSHOTS=1 refreshes the README's picture of the section.
DOC_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "doctor.png"


@pytest.fixture
def run_worker() -> bool:
    return True


async def test_health_check_on_the_card(
    live_service: tuple[str, Settings], emulator: str, page: Page, db: object
) -> None:
    base, _ = live_service
    realm = await connect_from_card(page, base, emulator)
    async with httpx.AsyncClient(base_url=emulator) as http:
        changed = await http.patch(
            f"/_emulator/companies/{realm}", json={"book_close_date": "2026-10-31"}
        )
        assert changed.status_code == 200
    euro = invoice_event("e-eur", currency="EUR", created_at="2099-01-01T00:00:00Z")
    assert (await post(base, euro)).status_code == 202
    await settle(db)  # type: ignore[arg-type]
    await page.goto(await card_link(base))
    await page.get_by_role("button", name="Run the health check again").click()
    await expect(page.get_by_role("status")).to_contain_text("The health check ran again")
    section = page.locator("#health-check")
    await expect(section.locator("#check-multicurrency")).to_contain_text("Problem")
    await expect(section.locator("#check-multicurrency")).to_contain_text("What to do:")
    await expect(section.locator("#check-closing-date, #check-closing_date")).to_contain_text(
        "2026-10-31"
    )
    await shot(page, "doctor")
    if os.environ.get("QBS_DOC_SCREENSHOTS") == "1":
        DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
        await section.screenshot(path=str(DOC_SHOT))

    checking = next(a for a in await Qbo(emulator, realm).all("Account") if a["Name"] == "Checking")
    await section.get_by_label("Where payments land").select_option(checking["Id"])
    await section.get_by_role("button", name="Use this account").click()
    await expect(page.get_by_role("status")).to_contain_text("deposited to the chosen account")
    assert (await describe(base))["deposit_account_id"] == checking["Id"]
