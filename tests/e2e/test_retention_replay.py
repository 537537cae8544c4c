"""Retention and exactly once: a CRM event re-delivered after its row was purged, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import RetentionSettings, Settings
from app.db.session import SessionFactory
from app.models.states import SyncState
from app.sync import retention
from tests.e2e.sync_helpers import Qbo, count_events, entries, post, settle
from tests.fixtures.events import payment_event

pytestmark = pytest.mark.slow

LINES = [{"name": "Consultation", "quantity": 3, "unit_price": "9.99", "taxes": []}]
TOTALS = {"subtotal": "29.97", "discount": "0.00", "tax": "0.00", "total": "29.97"}


async def test_an_event_redelivered_after_its_purge_creates_nothing_twice(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    """Nothing grows forever: a purged event is deduplicated by its row no more, so its
    re-delivery is accepted again, and the links (never purged) make it change nothing."""
    base, _ = live_service
    event = payment_event(line_items=LINES, totals=TOTALS)
    assert (await post(base, event)).status_code == 202
    assert (await post(base, event)).status_code == 200  # a duplicate while the row exists
    await settle(db)

    past_retention = datetime.now(UTC) + timedelta(days=91)
    purged = await retention.purge(db, RetentionSettings(), past_retention)
    assert {r.table: r.rows for r in purged}["crm_events"] == 1
    assert await count_events(db) == 0

    assert (await post(base, event)).status_code == 202  # accepted again: the row is gone
    await settle(db)
    assert len(await qbo.all("SalesReceipt")) == 1
    first, replay = await entries(db)
    assert first.state is SyncState.SYNCED
    assert first.crm_event_id is None  # the entry outlived its event
    assert replay.state is SyncState.SKIPPED
    assert replay.message == "already synced"
    assert replay.qbo_id == first.qbo_id
