"""Debian's Chromium under Playwright (never a downloaded browser), and card helpers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.fixtures.connect import AUTH

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# CI sets QBS_REQUIRE_BROWSER=1 so a missing browser fails the run instead of skipping it.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("QBS_REQUIRE_BROWSER") != "1",
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 900, "height": 1000})
    opened = await context.new_page()
    yield opened
    await context.close()


async def shot(page: Page, name: str) -> None:
    """Every state the tests reach is saved for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"card-{name}.png"), full_page=True)


async def card_link(base: str, location: str = "loc_1") -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base}/v1/connections/{location}/card-link", headers=AUTH)
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return url


async def new_company(emulator: str, **spec: Any) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emulator}/_emulator/companies", json=spec)
    assert response.status_code == 201, response.text
    realm: str = response.json()["realm_id"]
    return realm


async def consent(page: Page, emulator: str, realm: str) -> None:
    """On the emulator's consent page: pick the company and press Connect."""
    await page.wait_for_url(f"{emulator}/connect/oauth2**")
    await page.get_by_label("Company").select_option(realm)
    await page.get_by_role("button", name="Connect", exact=True).click()


async def connect_from_card(page: Page, base: str, emulator: str, **toggles: bool) -> str:
    """Open the card, connect a new US company through the consent page; returns its realm."""
    realm = await new_company(emulator, name="Card Test Bakery", country="US")
    await page.goto(await card_link(base))
    if toggles.get("import_invoices"):
        await page.get_by_label("Import invoices").check()
    if toggles.get("review_automation"):
        await page.get_by_label("Review automation").check()
    await page.get_by_role("button", name="Connect to QuickBooks").click()
    await consent(page, emulator, realm)
    await page.wait_for_url(f"{base}/v1/card?**")
    return realm
