"""Retry all failed is one action: the API, the card and the CLI queue the same work.

On the same sync log, each of them re-queues every CRM object whose newest entry failed, once,
with the newest event of the object; a failure since followed by a newer entry is left alone,
and so is a QuickBooks -> CRM failure (no CRM event to re-run).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, text

from app.db.session import SessionFactory
from app.models import Connection, CrmEvent, SyncLogEntry
from app.models.states import ConnectionStatus, Direction, InboundState, SyncState
from tests.fixtures.connect import AUTH
from tests.fixtures.db import _TABLES
from tests.ops.test_cli import cli

LOCATION = "loc_retry_all"

# (object, event, state of its entry), oldest first.
HISTORY = [
    ("inv_twice", "evt_twice_1", SyncState.FAILED),
    ("inv_fixed", "evt_fixed_1", SyncState.FAILED),
    ("inv_once", "evt_once_1", SyncState.FAILED),
    ("inv_twice", "evt_twice_2", SyncState.FAILED),
    ("inv_fixed", "evt_fixed_2", SyncState.SYNCED),
]
# inv_twice once, with its newest event; inv_once; not inv_fixed (synced since).
EXPECTED = [("evt_once_1", 3), ("evt_twice_2", 4)]


async def seed(db: SessionFactory) -> None:
    async with db() as session, session.begin():
        await session.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    async with db() as session, session.begin():
        connection = Connection(
            id=uuid.uuid4(),
            location_id=LOCATION,
            realm_id="9130000000000042",
            status=ConnectionStatus.ACTIVE,
            company_name="Retry Bakery",
        )
        session.add(connection)
        await session.flush()
        for object_id, event_id, state in HISTORY:
            failed = state is SyncState.FAILED
            event = CrmEvent(
                location_id=LOCATION,
                event_id=event_id,
                type="invoice.sent",
                occurred_at=datetime.now(UTC),
                body_hash="0" * 64,
                payload={},
                object_kind="invoice",
                object_id=object_id,
                state=InboundState.FAILED if failed else InboundState.DONE,
            )
            session.add(event)
            await session.flush()
            session.add(_entry(connection, object_id, state, event.id))
            await session.flush()
        # From QuickBooks: failed, but there is no CRM event to run again.
        session.add(_entry(connection, None, SyncState.FAILED, None, qbo_id="58"))


def _entry(
    connection: Connection,
    crm_id: str | None,
    state: SyncState,
    event_row: int | None,
    qbo_id: str | None = None,
) -> SyncLogEntry:
    return SyncLogEntry(
        connection_id=connection.id,
        direction=Direction.CRM_TO_QBO if event_row else Direction.QBO_TO_CRM,
        kind="invoice" if event_row else "customer",
        crm_id=crm_id,
        qbo_id=qbo_id,
        state=state,
        message="Duplicate Document Number Error" if state is SyncState.FAILED else None,
        crm_event_id=event_row,
    )


async def queued_work(db: SessionFactory) -> dict[str, Any]:
    """What a worker will do: the jobs queued, and which events are open again."""
    async with db() as session:
        jobs = (await session.execute(text("SELECT task_name, args FROM procrastinate_jobs"))).all()
        events = (
            await session.execute(select(CrmEvent.id, CrmEvent.event_id, CrmEvent.state))
        ).all()
    return {
        "jobs": sorted((task, args["event_row_id"]) for task, args in jobs),
        "reopened": sorted(
            (event_id, row) for row, event_id, state in events if state is InboundState.PENDING
        ),
    }


async def test_api_card_and_cli_retry_the_same_failures(
    client: httpx.AsyncClient, db: SessionFactory, database_url: str, tmp_path: Path
) -> None:
    expected = {
        "jobs": sorted(("crm.event.process", row) for _, row in EXPECTED),
        "reopened": EXPECTED,
    }

    await seed(db)
    api = await client.post(f"/v1/connections/{LOCATION}/sync-log/retry-failed", headers=AUTH)
    assert api.status_code == 202, api.text
    by_api = await queued_work(db)
    # Oldest failure first: inv_once (entry 3) before inv_twice's newest (entry 4).
    assert api.json() == {
        "queued": [
            {"entry_id": 3, "event_id": "evt_once_1"},
            {"entry_id": 4, "event_id": "evt_twice_2"},
        ]
    }

    await seed(db)
    link = await client.post(f"/v1/connections/{LOCATION}/card-link", headers=AUTH)
    token = parse_qs(urlsplit(link.json()["url"]).query)["token"][0]
    card = await client.post("/v1/card/retry-all", data={"token": token})
    assert card.status_code == 303
    assert "notice=retry_all_queued" in card.headers["location"]
    by_card = await queued_work(db)

    await seed(db)
    code, out, err = await cli(database_url, tmp_path, "retry", "--location", LOCATION, "--failed")
    assert code == 0, err
    assert "queued sync-log entry #3 (re-runs CRM event evt_once_1)" in out
    assert "queued sync-log entry #4 (re-runs CRM event evt_twice_2)" in out
    assert "2 retries queued" in out
    by_cli = await queued_work(db)

    assert by_api == by_card == by_cli == expected


async def test_the_card_lists_what_retry_all_retries(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    await seed(db)
    link = await client.post(f"/v1/connections/{LOCATION}/card-link", headers=AUTH)
    page = (await client.get(link.json()["url"])).text
    assert "Needs attention (3)" in page  # inv_twice, inv_once and the QuickBooks customer
    assert "Retry Invoice inv_twice" in page
    assert "Retry Invoice inv_once" in page
    assert "Retry Invoice inv_fixed" not in page


async def test_unknown_location_is_a_404_for_retry_all(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections/nope/sync-log/retry-failed", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_location"
