"""The integration card in a real browser: connect, toggle, fail, retry, disconnect."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import update

from app.config import Settings
from app.db.session import SessionFactory
from app.models import Connection
from app.models.states import ConnectionStatus, SyncState
from tests.browser.browser import card_link, connect_from_card, needs_chromium, shot
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import describe
from tests.fixtures.crm_receiver import CrmReceiver
from tests.fixtures.events import invoice_event

pytestmark = [pytest.mark.slow, needs_chromium]

Live = tuple[str, Settings]


@pytest.fixture
def run_worker() -> bool:
    return True


@pytest.fixture
def callback_url(crm_receiver: CrmReceiver) -> str:
    return crm_receiver.url


async def test_connect_through_the_consent_page_lands_back_on_the_card_connected(
    live_service: Live, emulator: str, page: Page
) -> None:
    base, _ = live_service
    await page.goto(await card_link(base))
    await expect(page.get_by_role("heading", name="Connect your books")).to_be_visible()
    await expect(page.get_by_label("Import invoices")).not_to_be_checked()
    await shot(page, "1-not-connected")

    realm = await connect_from_card(page, base, emulator, review_automation=True)

    await expect(page.get_by_role("status")).to_contain_text("QuickBooks is connected.")
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("Card Test Bakery")
    await expect(facts).to_contain_text(realm)
    await expect(facts).to_contain_text("United States")
    await expect(facts).to_contain_text("USD")
    await expect(page.locator(".badge")).to_have_text("Status: Active")
    await expect(page.get_by_label("Review automation")).to_be_checked()
    await shot(page, "2-connected")
    assert (await describe(base))["status"] == "active"


async def test_review_automation_toggle_is_saved(
    live_service: Live, emulator: str, page: Page
) -> None:
    base, _ = live_service
    await connect_from_card(page, base, emulator)
    toggle = page.get_by_label("Review automation")
    await expect(toggle).not_to_be_checked()
    # Keyboard only: focus the box, tick it with Space, move on and press Save with Enter.
    await toggle.focus()
    await page.keyboard.press("Space")
    await page.get_by_role("button", name="Save review automation").focus()
    await shot(page, "3-toggle-focused")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Review automation is on.")
    await page.reload()
    await expect(page.get_by_label("Review automation")).to_be_checked()
    await shot(page, "4-review-on")
    assert (await describe(base))["review_automation"] is True

    await page.get_by_label("Review automation").uncheck()
    await page.get_by_role("button", name="Save review automation").click()
    await expect(page.get_by_role("status")).to_have_text("Review automation is off.")
    assert (await describe(base))["review_automation"] is False


async def _take_number(qbo: Qbo, number: str) -> dict[str, object]:
    """Someone already used the invoice number in QuickBooks."""
    customer = await qbo.create("Customer", {"DisplayName": "Someone else"})
    item = (await qbo.all("Item"))[0]
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 1,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 1},
    }
    return await qbo.create(
        "Invoice", {"DocNumber": number, "CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )


async def test_a_failed_invoice_shows_its_message_and_retry_makes_it_synced(
    live_service: Live, emulator: str, page: Page, db: SessionFactory
) -> None:
    base, _ = live_service
    qbo = Qbo(emulator, await connect_from_card(page, base, emulator))
    taken = await _take_number(qbo, "INV-1001")
    assert (await post(base, invoice_event(created_at="2099-01-01T00:00:00Z"))).status_code == 202
    await settle(db)
    [entry] = await entries(db)
    assert entry.state is SyncState.FAILED

    await page.reload()
    row = page.locator(f"#failure-{entry.id}")
    await expect(page.get_by_role("heading", name="Needs attention (1)")).to_be_visible()
    await expect(row.get_by_role("heading")).to_have_text("Invoice inv_1")
    await expect(row.locator(".message")).to_contain_text("INV-1001")
    await expect(row).to_contain_text("What to do:")
    await expect(row).to_contain_text(entry.action or "")
    await row.locator("summary").click()
    timeline = row.locator("ol.timeline")
    await expect(timeline).to_contain_text("Event received from the CRM")
    await expect(timeline).to_contain_text("invoice.sent")
    await expect(timeline).to_contain_text("request")
    if entry.intuit_tid:
        await expect(timeline).to_contain_text(entry.intuit_tid)
    await expect(timeline).to_contain_text("Result: failed")
    await shot(page, "5-failed")
    await page.set_viewport_size({"width": 360, "height": 800})
    await shot(page, "6-failed-360px")
    # As the README shows it: a fresh link (no notice), the timeline open.
    await page.set_viewport_size({"width": 720, "height": 800})
    await page.goto(await card_link(base))
    await row.locator("summary").click()
    await shot(page, "readme")
    await page.set_viewport_size({"width": 900, "height": 1000})

    # The person renumbers the other invoice in QuickBooks, then presses Retry on the card.
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.patch(
            f"/_emulator/companies/{qbo.realm}/entities/Invoice/{taken['Id']}",
            json={"DocNumber": "OLD-1001"},
        )
    await row.get_by_role("button", name="Retry Invoice inv_1").click()
    await expect(page.get_by_role("status").first).to_contain_text("Retry started")
    await settle(db)
    await page.reload()
    await expect(page.get_by_text("Nothing has failed.")).to_be_visible()
    recent = page.locator("#activity-heading ~ ul").first
    await expect(recent.locator("li").first).to_contain_text("Synced · Invoice inv_1")
    await shot(page, "7-retried-synced")
    assert (await entries(db))[-1].state is SyncState.SYNCED
    assert len(await qbo.all("Invoice")) == 2


async def test_retry_all_failed(
    live_service: Live, emulator: str, page: Page, db: SessionFactory
) -> None:
    base, _ = live_service
    qbo = Qbo(emulator, await connect_from_card(page, base, emulator))
    taken = await _take_number(qbo, "INV-1001")
    await post(base, invoice_event(created_at="2099-01-01T00:00:00Z"))
    await settle(db)
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.patch(
            f"/_emulator/companies/{qbo.realm}/entities/Invoice/{taken['Id']}",
            json={"DocNumber": "OLD-1001"},
        )
    await page.reload()
    await page.get_by_role("button", name="Retry all failed").click()
    await expect(page.get_by_role("status").first).to_contain_text("Retry started")
    await settle(db)
    await page.reload()
    await expect(page.get_by_text("Nothing has failed.")).to_be_visible()


async def test_disconnect_asks_first_then_stops_syncing(
    live_service: Live, emulator: str, page: Page
) -> None:
    base, _ = live_service
    await connect_from_card(page, base, emulator)
    await page.get_by_role("link", name="Disconnect…").click()
    await expect(page.get_by_role("alert")).to_contain_text("Disconnect QuickBooks?")
    await shot(page, "8-disconnect-confirm")
    assert (await describe(base))["status"] == "active"
    await page.get_by_role("button", name="Yes, disconnect").click()
    await expect(page.get_by_role("status")).to_contain_text("QuickBooks is disconnected.")
    await expect(page.locator(".badge")).to_have_text("Status: Disconnected")
    await expect(page.get_by_role("button", name="Connect again")).to_be_visible()
    await shot(page, "9-disconnected")
    assert (await describe(base))["status"] == "disconnected"


async def test_release_asks_first_then_offers_connect_again(
    live_service: Live, emulator: str, page: Page
) -> None:
    """Item 8: the card's Release action is confirmed, then the card offers a fresh connect."""
    base, _ = live_service
    realm = await connect_from_card(page, base, emulator)
    await page.get_by_role("link", name="Wrong company? Release it…").click()
    await expect(page.get_by_role("alert")).to_contain_text("QuickBooks is disconnected first.")
    assert (await describe(base))["realm_id"] == realm
    await page.get_by_role("button", name="Yes, release the company").click()
    await expect(page.get_by_role("status")).to_contain_text("The QuickBooks company was released.")
    await expect(page.get_by_role("button", name="Connect to QuickBooks")).to_be_visible()
    described = await describe(base)
    assert described["realm_id"] is None
    assert [r["realm_id"] for r in described["released_companies"]] == [realm]


async def test_import_progress_and_needs_reconnect(
    live_service: Live, emulator: str, page: Page, db: SessionFactory
) -> None:
    base, _ = live_service
    realm = await connect_from_card(page, base, emulator)
    # The real import runs right after connecting; let it finish before faking one in progress,
    # or it would overwrite the state set here.
    for _ in range(100):
        if (await describe(base))["import"]["state"] == "done":
            break
        await asyncio.sleep(0.1)
    async with db() as session, session.begin():
        await session.execute(
            update(Connection).values(
                status=ConnectionStatus.NEEDS_RECONNECT,
                status_reason="QuickBooks refused the stored sign-in (invalid_grant).",
                import_state="running",
                import_progress={
                    "customers": {"done": 40, "total": 120, "next_position": 41},
                    "invoices": {"done": 0, "total": 35, "next_position": 1},
                },
            )
        )
    await page.reload()
    await expect(page.locator(".badge")).to_have_text("Status: Needs reconnect")
    customers = page.get_by_label("Customers: 40 of 120")
    await expect(customers).to_have_attribute("value", "40")
    await expect(page.get_by_label("Invoices: 0 of 35")).to_be_visible()
    await shot(page, "10-importing-needs-reconnect")
    await page.get_by_role("button", name="Reconnect").click()
    await page.wait_for_url(f"{emulator}/connect/oauth2**")
    await page.get_by_label("Company").select_option(realm)
    await page.get_by_role("button", name="Connect", exact=True).click()
    await page.wait_for_url(f"{base}/v1/card?**")
    await expect(page.locator(".badge")).to_have_text("Status: Active")


async def test_a_bad_link_explains_itself(live_service: Live, page: Page) -> None:
    base, _ = live_service
    response = await page.goto(f"{base}/v1/card?token=not-a-real-token")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_contain_text("This link can")
    await shot(page, "11-invalid-link")
