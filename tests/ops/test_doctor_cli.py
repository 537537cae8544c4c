"""`qbo-sync doctor --location L` as an operator runs it (registered, exit codes, message)."""

from __future__ import annotations

import uuid
from pathlib import Path

from app.db.session import SessionFactory
from app.models import Connection
from app.models.states import ConnectionStatus
from tests.ops.test_cli import cli


async def test_doctor_of_an_unknown_location_says_so(database_url: str, tmp_path: Path) -> None:
    code, out, err = await cli(database_url, tmp_path, "doctor", "--location", "nope")
    assert code == 1
    assert "'nope' is not known" in err
    assert out == ""


async def test_doctor_of_a_location_not_connected_yet(
    database_url: str, tmp_path: Path, db: SessionFactory
) -> None:
    async with db() as session, session.begin():
        session.add(
            Connection(id=uuid.uuid4(), location_id="loc_new", status=ConnectionStatus.PENDING)
        )
    code, _, err = await cli(database_url, tmp_path, "doctor", "--location", "loc_new")
    assert code == 1
    assert "has no QuickBooks company yet" in err
