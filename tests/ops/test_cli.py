"""`qbo-sync connections | sync-log | retry` against the test database, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db.session import SessionFactory
from app.models import Connection, CrmEvent, SyncLogEntry
from app.models.states import ConnectionStatus, Direction, InboundState, SyncState

ROOT = Path(__file__).resolve().parents[2]


async def cli(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": database_url,
        "QBS_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", *args,
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def failing_location(db: SessionFactory) -> str:
    """loc_ops: an active connection with one failed and one synced invoice."""
    async with db() as session:
        connection = Connection(
            id=uuid.uuid4(),
            location_id="loc_ops",
            realm_id="9130000000000001",
            status=ConnectionStatus.ACTIVE,
            company_name="Ops Bakery",
            import_state="done",
        )
        session.add(connection)
        await session.flush()
        for n, state in ((1, SyncState.FAILED), (2, SyncState.SYNCED)):
            event = CrmEvent(
                location_id="loc_ops",
                event_id=f"evt_ops_{n}",
                type="invoice.sent",
                occurred_at=datetime.now(UTC),
                body_hash="0" * 64,
                payload={},
                object_kind="invoice",
                object_id=f"inv_{n}",
                state=InboundState.FAILED if state is SyncState.FAILED else InboundState.DONE,
            )
            session.add(event)
            await session.flush()
            session.add(
                SyncLogEntry(
                    connection_id=connection.id,
                    direction=Direction.CRM_TO_QBO,
                    kind="invoice",
                    crm_id=f"inv_{n}",
                    qbo_id=None if state is SyncState.FAILED else "77",
                    state=state,
                    message="Duplicate Document Number Error" if n == 1 else None,
                    action="Turn off duplicate numbers in QuickBooks" if n == 1 else None,
                    crm_event_id=event.id,
                )
            )
        await session.commit()
    return "loc_ops"


async def test_connections_lists_each_with_its_health(
    database_url: str, tmp_path: Path, failing_location: str
) -> None:
    code, out, err = await cli(database_url, tmp_path, "connections")
    assert code == 0, err
    header, _rule, row = out.splitlines()[:3]
    assert header.split()[:4] == ["LOCATION", "REALM", "STATUS", "COMPANY"]
    assert row.split()[:3] == ["loc_ops", "9130000000000001", "active"]
    assert "Ops Bakery" in row
    assert " 1 " in row  # failed count
    assert "never" not in row  # the synced entry gives a last sync time


async def test_connections_with_none_says_so(database_url: str, tmp_path: Path, db: object) -> None:
    code, out, _ = await cli(database_url, tmp_path, "connections")
    assert code == 0
    assert "No connections yet" in out


async def test_sync_log_failed_shows_message_and_action(
    database_url: str, tmp_path: Path, failing_location: str
) -> None:
    code, out, err = await cli(
        database_url, tmp_path, "sync-log", "--location", "loc_ops", "--failed"
    )
    assert code == 0, err
    assert "invoice inv_1" in out
    assert "Duplicate Document Number Error" in out
    assert "what to do: Turn off duplicate numbers" in out
    assert "inv_2" not in out

    code, out, _ = await cli(
        database_url, tmp_path, "sync-log", "--location", "loc_ops", "--limit", "1"
    )
    assert code == 0
    assert "inv_2" in out
    assert "inv_1" not in out


async def test_unknown_location_is_an_error_in_plain_words(
    database_url: str, tmp_path: Path, db: object
) -> None:
    code, _, err = await cli(database_url, tmp_path, "sync-log", "--location", "nope")
    assert code == 1
    assert "no connection for location 'nope'" in err


async def test_retry_failed_requeues_every_failed_entry(
    database_url: str, tmp_path: Path, failing_location: str, db: SessionFactory
) -> None:
    code, out, err = await cli(database_url, tmp_path, "retry", "--location", "loc_ops", "--failed")
    assert code == 0, err
    assert "queued sync-log entry #1 (re-runs CRM event evt_ops_1)" in out
    assert "1 retry queued" in out
    async with db() as session:
        jobs = (await session.execute(text("SELECT task_name, args FROM procrastinate_jobs"))).all()
        reopened = (
            await session.execute(select(CrmEvent.state).where(CrmEvent.event_id == "evt_ops_1"))
        ).scalar_one()
    assert [(task, args["event_row_id"]) for task, args in jobs] == [("crm.event.process", 1)]
    assert reopened is not InboundState.FAILED

    code, _, err = await cli(database_url, tmp_path, "retry", "--location", "loc_ops")
    assert code == 1
    assert "--failed" in err


async def test_names_from_outside_reach_the_terminal_without_control_characters(
    database_url: str, tmp_path: Path, db: SessionFactory
) -> None:
    """Smaller holes: CLI output strips terminal control characters from names (a company name
    from QuickBooks, a customer name in a sync-log reason)."""
    hostile = "Evil\x1b[31m Bakery\x07\x1b]0;owned\x07\x9b2J"
    async with db() as session:
        connection = Connection(
            id=uuid.uuid4(),
            location_id="loc_esc",
            realm_id="9130000000000002",
            status=ConnectionStatus.ACTIVE,
            company_name=hostile,
        )
        session.add(connection)
        await session.flush()
        session.add(
            SyncLogEntry(
                connection_id=connection.id,
                direction=Direction.QBO_TO_CRM,
                kind="customer",
                crm_id="c_\x1b[2Kforged",
                qbo_id="58",
                state=SyncState.FAILED,
                message=f"QuickBooks customer {hostile} could not be sent\nerror: forged line",
                action="Rename \x1b[8mhidden\x1b[0m in QuickBooks",
            )
        )
        await session.commit()

    code, listing, err = await cli(database_url, tmp_path, "connections")
    assert code == 0, err
    code, log_lines, err = await cli(database_url, tmp_path, "sync-log", "--location", "loc_esc")
    assert code == 0, err
    for out in (listing, log_lines):
        assert "\x1b" not in out
        assert "\x07" not in out
        assert "\x9b" not in out
        assert "[31m" not in out
    assert "Evil Bakery\\x07" in listing
    assert "owned" not in listing
    # The columns after the company still line up under their headers.
    header, _rule, row = listing.splitlines()[:3]
    assert row[header.index("IMPORT")] == "-"
    assert "c_forged" in log_lines
    # A newline inside a reason cannot forge a line of output.
    assert not any(line.startswith("error:") for line in log_lines.splitlines())
    assert "could not be sent\\nerror: forged line" in log_lines
    assert "what to do: Rename hidden in QuickBooks" in log_lines
