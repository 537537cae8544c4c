"""Typed views of two stored texts: a link's `state` JSON and a connection's `import_state`.

Both keep exactly what earlier versions stored (no migration): the JSON objects below are the
shapes the dict-building flows wrote (commit 419ff7c), and `import_state` keeps its
"<state>: <reason>" text, cut to its 32-character column.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.models import Connection, EntityLink
from app.models.entity_link import LinkState
from app.models.states import ImportState

STORED: list[dict[str, Any]] = [
    {},
    {"crm_hash": "4da1678abd8a04494e43b3786dd22f0b3df0ea455134b0bfb0ea68f808ef6c41"},
    {"updated_at": "2026-11-01T09:05:00+01:00"},
    {"voided": True, "updated_at": "2026-11-01T08:05:00+00:00"},
    {
        "amount_paid": "115.40",
        "payments": ["130", "131"],
        "updated_at": "2026-11-02T10:00:00.123456+00:00",
    },
    {"crm_hash": "ab", "amount_paid": "1E+2", "payments": ["7"], "voided": True},
]


class TestLinkState:
    @pytest.mark.parametrize("stored", STORED)
    def test_what_was_stored_reads_and_stores_back_unchanged(self, stored: dict[str, Any]) -> None:
        assert EntityLink(state=stored).link_state.stored() == stored

    def test_typed_values(self) -> None:
        state = EntityLink(state=STORED[4]).link_state
        assert state.amount_paid == Decimal("115.40")
        assert state.payments == ["130", "131"]
        assert state.updated_at == datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=UTC)
        assert state.voided is None

    def test_written_like_earlier_versions(self) -> None:
        moment = datetime(2026, 11, 1, 9, 5, tzinfo=timezone(timedelta(hours=1)))
        state = LinkState(voided=True, updated_at=moment, amount_paid=Decimal("12.50"))
        assert state.stored() == {
            "voided": True,
            "updated_at": moment.isoformat(),
            "amount_paid": "12.50",
        }

    def test_an_unknown_key_is_an_error_not_lost(self) -> None:
        # A full rewrite (the CRM -> QBO invoice flow's) would otherwise drop it silently.
        with pytest.raises(ValidationError, match="amount_due"):
            _ = EntityLink(state={"amount_due": "1"}).link_state


class TestImportState:
    @pytest.mark.parametrize(
        ("stored", "phase"),
        [
            (None, None),
            ("queued", ImportState.QUEUED),
            ("done", ImportState.DONE),
            ("paused: needs_reconnect", ImportState.PAUSED),
            ("retrying: ReadTimeout: timed ou…", ImportState.RETRYING),
        ],
    )
    def test_phase_of_the_stored_text(self, stored: str | None, phase: ImportState | None) -> None:
        assert Connection(import_state=stored).import_phase is phase

    def test_written_as_earlier_versions_wrote_it(self) -> None:
        connection = Connection()
        connection.set_import_state(ImportState.RUNNING)
        assert connection.import_state == "running"
        connection.set_import_state(ImportState.PAUSED, "needs_reconnect")
        assert connection.import_state == "paused: needs_reconnect"
        connection.set_import_state(ImportState.FAILED, "QuickBooks refused the query: " * 3)
        assert connection.import_state == "failed: QuickBooks refused the …"
        assert len(connection.import_state) == 32
        connection.set_import_state(None)
        assert connection.import_state is None
