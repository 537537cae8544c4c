"""`qbo-sync callbacks list | resend` against the test database, as an operator runs them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db.session import SessionFactory, session_scope
from app.models import Connection, CrmCallback
from app.models.states import CallbackState, ConnectionStatus
from tests.ops.test_cli import cli

LOCATION = "loc_cb_ops"


@pytest.fixture
async def failed_callbacks(db: SessionFactory) -> list[uuid.UUID]:
    """Two callbacks the CRM never took (one written 5 days ago) and one delivered."""
    now = datetime.now(UTC)
    rows = [
        CrmCallback(
            location_id=LOCATION,
            type="sync.result",
            payload={"n": n},
            state=state,
            attempts=40,
            last_error="gave up after 3 days: CRM answered HTTP 503: maintenance",
            created_at=created,
            failed_at=now if state is CallbackState.FAILED else None,
        )
        for n, (state, created) in enumerate(
            [
                (CallbackState.FAILED, now - timedelta(days=5)),
                (CallbackState.FAILED, now - timedelta(hours=1)),
                (CallbackState.DELIVERED, now - timedelta(hours=1)),
            ]
        )
    ]
    async with session_scope(db) as session:
        session.add(
            Connection(
                id=uuid.uuid4(),
                location_id=LOCATION,
                realm_id="9130000000000042",
                status=ConnectionStatus.ACTIVE,
                company_name="Callback Bakery",
            )
        )
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def states(db: SessionFactory) -> dict[uuid.UUID, tuple[CallbackState, int]]:
    async with session_scope(db) as session:
        rows = (await session.scalars(select(CrmCallback))).all()
        return {row.id: (row.state, row.attempts) for row in rows}


async def test_list_failed_shows_each_with_its_reason_and_what_to_do(
    database_url: str, tmp_path: Path, db: SessionFactory, failed_callbacks: list[uuid.UUID]
) -> None:
    """Failure mode CRM outage: an operator sees the callbacks the CRM never got, and why."""
    code, out, err = await cli(
        database_url, tmp_path, "callbacks", "list", "--location", LOCATION, "--failed"
    )
    assert code == 0, err
    assert str(failed_callbacks[0]) in out
    assert str(failed_callbacks[1]) in out
    assert str(failed_callbacks[2]) not in out
    assert out.count("gave up after 3 days: CRM answered HTTP 503: maintenance") == 2
    assert f"qbo-sync callbacks resend --location {LOCATION}" in out


async def test_resend_since_makes_the_newer_failed_ones_due_and_wakes_the_deliverer(
    database_url: str, tmp_path: Path, db: SessionFactory, failed_callbacks: list[uuid.UUID]
) -> None:
    """Failure mode CRM outage: `qbo-sync callbacks resend --since T` sends failed ones again."""
    old, recent, delivered = failed_callbacks
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    code, out, err = await cli(
        database_url, tmp_path, "callbacks", "resend", "--location", LOCATION, "--since", since
    )
    assert code == 0, err
    assert "1 failed callback due again" in out
    after = await states(db)
    assert after[recent] == (CallbackState.PENDING, 0)
    assert after[old] == (CallbackState.FAILED, 40)
    assert after[delivered] == (CallbackState.DELIVERED, 40)
    async with session_scope(db) as session:
        queued = await session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE task_name = 'crm.callbacks.deliver' AND status = 'todo'"
            )
        )
    assert queued == 1

    code, out, err = await cli(
        database_url, tmp_path, "callbacks", "resend", "--location", LOCATION
    )
    assert (code, (await states(db))[old]) == (0, (CallbackState.PENDING, 0)), err


async def test_bad_input_is_refused_in_plain_words(
    database_url: str, tmp_path: Path, db: SessionFactory
) -> None:
    """Failure mode CRM outage: an unknown location or an unreadable time is a clear error."""
    code, _, err = await cli(database_url, tmp_path, "callbacks", "resend", "--location", "nope")
    assert code == 1
    assert "location 'nope' is not known" in err
    code, _, err = await cli(
        database_url, tmp_path, "callbacks", "resend", "--location", LOCATION, "--since", "soon"
    )
    assert code == 2
    assert "not an ISO 8601 time" in err
