"""Exactly once when the answer comes too late: a create the service gave up on (its QBO timeout)
that QuickBooks still commits afterwards is found by the retry, which looks only once the write
has surely ended (QBO_WRITE_SETTLE_S), never made twice. Requestid replay is off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db.provision import Database
from app.db.session import SessionFactory
from app.integrations import http as outbound_http
from app.main import create_app
from tests.e2e.sync_helpers import Qbo, entries, post
from tests.e2e.test_second_guards import _all_synced, _emulator, _no_replay, _warm, invoice
from tests.fixtures.live import free_port, live_settings, serve

pytestmark = pytest.mark.slow


@pytest.fixture
def live_service(
    database_url: str,
    db: object,
    emulator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, Settings]]:
    """The live service giving up on QBO after 1 s, and looking for an unanswered create 3 s
    after it was sent (so after the slow write below has committed)."""
    monkeypatch.setattr(outbound_http, "DEFAULT_TIMEOUT", httpx.Timeout(1.0, connect=1.0))
    port = free_port()
    settings = live_settings(database_url, tmp_path / "data", emulator, port)
    settings.worker.poll_interval_s = 0.1
    settings.worker.retry_base_s = 0.2
    settings.qbo.write_settle_s = 3.0
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, port) as url:
        yield url, settings


async def test_a_create_answered_after_the_timeout_is_looked_up_once_it_has_committed(
    live_service: tuple[str, Settings], qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    await _no_replay(qbo)
    await _warm(base, db)
    # The service gives up after 1 s; QBO still commits the invoice 2 s after it came.
    await _emulator(qbo, "POST", "/faults", {"kind": "slow", "count": 1, "delay_ms": 2000})
    slow_done_by = time.monotonic() + 2.5
    await post(base, invoice("e1", "inv_1", "INV-1"))
    await _all_synced(db)
    # Synced is not the end here: a retry that created again too early leaves a twin behind
    # when the slow write commits. Watch for one until that write has surely ended.
    while True:
        invoices = await qbo.all("Invoice")
        if len(invoices) > 2 or time.monotonic() > slow_done_by:
            break
        await asyncio.sleep(0.1)
    assert sorted(i["DocNumber"] for i in invoices) == ["INV-0", "INV-1"]
    notes = [note for entry in await entries(db) for note in entry.details.get("notes", [])]
    assert any("created by an earlier attempt" in note for note in notes), notes
