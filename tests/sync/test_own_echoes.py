"""Which webhook is the echo of our own write (app/sync/own_echoes.py), without a read.

Synthetic inputs, kept minimal: a stored change as intake stores it and the link our write left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models import EntityLink, QboChange
from app.sync.own_echoes import is_echo

# What a create's answer carried (QBO's MetaData times have whole seconds).
WRITTEN = datetime(2026, 3, 2, 17, 4, 5, tzinfo=UTC)


def link(
    sync_token: str = "0",  # noqa: S107 - a SyncToken, not a secret
    stamp: datetime | None = WRITTEN,
) -> EntityLink:
    return EntityLink(qbo_id="7", kind="customer", sync_token=sync_token, echo_updated_at=stamp)


def change(
    at: datetime | None, operation: str = "Create", source: str = "cloudevents"
) -> QboChange:
    return QboChange(
        entity="Customer", entity_id="7", operation=operation, occurred_at=at, source=source
    )


def test_the_webhook_naming_our_writes_second_is_our_echo() -> None:
    # CloudEvents `time` carries nanoseconds (kept to microseconds); legacy, milliseconds.
    assert is_echo(change(WRITTEN + timedelta(microseconds=179851)), link())
    assert is_echo(change(WRITTEN, "Update", "legacy"), link(sync_token="3"))


def test_a_later_edit_is_not_our_echo() -> None:
    assert not is_echo(change(WRITTEN + timedelta(seconds=1), "Update"), link(sync_token="3"))


def test_another_operation_in_the_same_second_is_not_our_echo() -> None:
    # A user's edit within the second of our create: an Update, not the Create we caused.
    assert not is_echo(change(WRITTEN, "Update"), link())
    assert not is_echo(change(WRITTEN, "Delete"), link(sync_token="3"))


def test_without_a_stored_time_or_a_webhook_time_everything_is_read() -> None:
    assert not is_echo(change(WRITTEN), link(stamp=None))
    assert not is_echo(change(None), link())
    # A CDC-found version is read: the poll never stores the version we wrote.
    assert not is_echo(change(WRITTEN, source="cdc"), link())
