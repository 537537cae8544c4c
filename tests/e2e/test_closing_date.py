"""Books closed in QuickBooks: a CRM invoice dated in the closed period fails at once with a
reason a bookkeeper can act on (not as a "stale" record re-read and retried), and a Retry after
the closing date is moved syncs it, once."""

from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.db.session import SessionFactory
from app.models.states import SyncState
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import AUTH
from tests.fixtures.events import invoice_event

pytestmark = pytest.mark.slow


async def close_books(qbo: Qbo, through: str) -> None:
    async with httpx.AsyncClient(base_url=qbo.emulator) as http:
        response = await http.patch(
            f"/_emulator/companies/{qbo.realm}", json={"book_close_date": through}
        )
    assert response.status_code == 200, response.text


async def test_an_invoice_in_a_closed_period_fails_with_the_reason_and_syncs_after_retry(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await close_books(qbo, "2026-11-30")
    # Issued 2026-11-01; made after the connection (older CRM invoices are not synced).
    event = invoice_event(
        "e1", created_at="2099-01-01T00:00:00Z", updated_at="2099-01-01T00:00:00Z"
    )
    assert (await post(base, event)).status_code == 202
    await settle(db)
    [entry] = [e for e in await entries(db) if e.kind == "invoice"]
    assert entry.state is SyncState.FAILED
    assert entry.qbo_error_code == "5010"
    assert entry.action is not None
    assert "closing date" in entry.action
    assert "changed this record" not in entry.action  # not taken for a stale SyncToken
    assert await qbo.all("Invoice") == []

    await close_books(qbo, "2026-10-31")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections/loc_1/sync-log/{entry.id}/retry", headers=AUTH
        )
    assert response.status_code == 202, response.text
    await settle(db)
    assert [e.state for e in await entries(db) if e.kind == "invoice"][-1] is SyncState.SYNCED
    [made] = await qbo.all("Invoice")
    assert made["TxnDate"] == "2026-11-01"
