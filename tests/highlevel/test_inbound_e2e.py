"""HighLevel → QuickBooks end to end through both stand-ins: the HighLevel stand-in
(highlevel_emulator, its webhooks signed with its own Ed25519 key) posting to the live service,
whose worker writes to the QBO emulator; the backstop poller reading the stand-in's API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from app.config import HighLevelSettings, Settings
from app.db.provision import Database
from app.db.session import SessionFactory
from app.main import create_app
from app.models import CrmEvent
from app.repositories import highlevel_locations
from highlevel_emulator.app import create_app as create_highlevel
from highlevel_emulator.config import HighLevelEmulatorConfig
from tests.e2e.sync_helpers import Qbo
from tests.fixtures.live import free_port, live_settings, serve

pytestmark = pytest.mark.slow
T = TypeVar("T")
LOCATION = "loc_1"


@pytest.fixture
def emulator_config(auto_consent_config: Any) -> Any:
    return auto_consent_config


@pytest.fixture
def qbo(emulator: str, connected_realm: str) -> Qbo:
    return Qbo(emulator, connected_realm)


@pytest.fixture
def highlevel() -> Iterator[str]:
    port = free_port()
    config = HighLevelEmulatorConfig(base_url=f"http://127.0.0.1:{port}", auto_consent=True)
    with serve(create_highlevel(config), port) as url:
        yield url


@pytest.fixture
def live_service(
    database_url: str, db: object, emulator: str, highlevel: str, tmp_path: Path
) -> Iterator[tuple[str, Settings]]:
    """The service with its worker, its HighLevel app pointed at the stand-in (its webhook key,
    API, OAuth) and a one-second poll interval."""
    port = free_port()
    key = httpx.get(f"{highlevel}/_emulator/webhook-public-key").json()
    config = httpx.get(f"{highlevel}/_emulator/config").json()
    settings = live_settings(database_url, tmp_path / "data", emulator, port)
    settings.worker.poll_interval_s = 0.1
    settings.highlevel = HighLevelSettings(
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        api_base_url=highlevel,
        oauth_base_url=highlevel,
        webhook_public_key=key["raw_base64"],
        poll_interval_s=1,
    )
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, port) as url:
        httpx.patch(
            f"{highlevel}/_emulator/config", json={"webhook_url": f"{url}/v1/highlevel/webhooks"}
        ).raise_for_status()
        yield url, settings


async def until(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 40) -> T:
    """Wait for an observable condition (the probe's non-None answer)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()
        if value is not None:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


class HighLevel:
    def __init__(self, url: str) -> None:
        self.url = url

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    async def flush(self) -> None:
        await self.call("POST", "/_emulator/webhooks/flush")

    async def deliveries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self.call("GET", "/_emulator/webhooks"))["deliveries"]
        return found


@pytest.fixture
async def installed(
    live_service: tuple[str, Settings], connected_realm: str, highlevel: str
) -> HighLevel:
    """loc_1 connected to QuickBooks, then the HighLevel app installed on it through the real
    install flow (chooselocation on the stand-in, code exchange, AppInstall webhook)."""
    base, _ = live_service
    hl = HighLevel(highlevel)
    await hl.call("POST", "/_emulator/locations", {"location_id": LOCATION})
    async with httpx.AsyncClient(base_url=base, follow_redirects=True) as browser:
        page = await browser.get("/v1/highlevel/install")
    assert page.status_code == 200, page.text
    await hl.flush()
    return hl


async def contact(hl: HighLevel) -> str:
    made = await hl.call(
        "POST",
        f"/_emulator/locations/{LOCATION}/contacts",
        {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
    )
    contact_id: str = made.get("id") or made["contact"]["id"]
    return contact_id


async def sent_invoice(hl: HighLevel, contact_id: str, **extra: Any) -> str:
    made = await hl.call(
        "POST",
        f"/_emulator/locations/{LOCATION}/invoices",
        {
            "contact_id": contact_id,
            "items": [{"name": "Consultation", "qty": 3, "amount": 9.99}],
            **extra,
        },
    )
    invoice_id: str = made["_id"]
    await hl.call("POST", f"/_emulator/locations/{LOCATION}/invoices/{invoice_id}/send")
    return invoice_id


async def invoice_events(db: SessionFactory) -> list[str]:
    async with db() as session:
        rows = await session.execute(select(CrmEvent.type).where(CrmEvent.type.like("invoice.%")))
        return sorted(rows.scalars().all())


async def next_poll(db: SessionFactory) -> None:
    """Wait until the poller has finished a round that started after now."""
    since = datetime.now(UTC)

    async def polled() -> bool | None:
        async with db() as session:
            location = await highlevel_locations.get(session, LOCATION)
        done = location is not None and (location.last_polled_at or since) > since
        return True if done else None

    await until(polled)


async def test_invoice_sent_then_paid_in_highlevel_reaches_quickbooks_once(
    installed: HighLevel, qbo: Qbo, db: SessionFactory
) -> None:
    hl = installed
    invoice_id = await sent_invoice(hl, await contact(hl))
    await hl.flush()
    invoice = await until(lambda: _first(qbo, "Invoice"))
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("29.97")
    await hl.call("POST", f"/_emulator/locations/{LOCATION}/invoices/{invoice_id}/pay")
    await hl.flush()
    payment = await until(lambda: _first(qbo, "Payment"))
    assert Decimal(str(payment["TotalAmt"])) == Decimal("29.97")
    # The poller reads both states again: the same facts, so nothing new is stored or written.
    await next_poll(db)
    assert await invoice_events(db) == ["invoice.paid", "invoice.sent"]
    assert len(await qbo.all("Invoice")) == 1
    assert len(await qbo.all("Payment")) == 1


async def test_a_completed_order_becomes_a_sales_receipt(installed: HighLevel, qbo: Qbo) -> None:
    hl = installed
    await hl.call(
        "POST",
        f"/_emulator/locations/{LOCATION}/orders",
        {
            "contact_id": await contact(hl),
            "items": [{"name": "Tee", "qty": 2, "price": 17}],
            "source": {"type": "website", "subType": "store"},
        },
    )
    await hl.flush()
    receipt = await until(lambda: _first(qbo, "SalesReceipt"))
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("34.00")


async def test_a_test_mode_invoice_never_reaches_quickbooks(
    installed: HighLevel, qbo: Qbo, db: SessionFactory
) -> None:
    hl = installed
    await sent_invoice(hl, await contact(hl), live_mode=False)
    await hl.flush()
    sent = [d for d in await hl.deliveries() if d["type"] == "InvoiceSent"]
    assert [d["status"] for d in sent] == [200]
    # The poller's reads skip it as well.
    await next_poll(db)
    assert await invoice_events(db) == []
    assert await qbo.all("Invoice") == []


async def test_a_dropped_webhook_is_recovered_by_the_poller(installed: HighLevel, qbo: Qbo) -> None:
    hl = installed
    contact_id = await contact(hl)
    await hl.flush()
    await hl.call("PATCH", "/_emulator/config", {"webhook_drop_rate": 1.0})
    await sent_invoice(hl, contact_id)
    await hl.flush()
    assert all(d["dropped"] for d in await hl.deliveries() if d["type"] == "InvoiceSent")
    # Polled every second of HIGHLEVEL_POLL_INTERVAL_S, on the periodic job's 10 s tick.
    invoice = await until(lambda: _first(qbo, "Invoice"), timeout_s=40)
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("29.97")


async def test_a_bad_signature_is_refused(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/highlevel/webhooks",
            content=b'{"type":"INSTALL","locationId":"x"}',
            headers={"X-GHL-Signature": "AAAA", "Content-Type": "application/json"},
        )
    assert response.status_code == 401


async def _first(qbo: Qbo, entity: str) -> dict[str, Any] | None:
    found = await qbo.all(entity)
    return found[0] if found else None


async def test_a_taxed_invoice_is_read_in_full_before_it_is_synced(
    installed: HighLevel, qbo: Qbo
) -> None:
    # The webhook's totalSummary has no tax (docs/webhook events/InvoiceSent.md): the service
    # reads GET /invoices/{id} for HighLevel's own tax total instead of computing one.
    hl = installed
    await sent_invoice(
        hl,
        await contact(hl),
        items=[
            {
                "name": "Consultation",
                "qty": 1,
                "amount": 100,
                "taxes": [{"_id": "tax-1", "name": "Sales tax", "rate": 8.25}],
            }
        ],
    )
    await hl.flush()
    invoice = await until(lambda: _first(qbo, "Invoice"))
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("108.25")
