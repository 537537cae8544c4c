"""Retrying failed sync-log entries: re-run their CRM object with the newest snapshot we hold.

Two operator actions, each used by the API, the card and the CLI:
- `retry_entry`: one failed entry, named by its id.
- `retry_all_failed` ("retry all failed"): every CRM object whose newest sync-log entry failed
  (app/repositories/sync_log.py `unresolved_failures`). A failure followed by a newer entry of the
  same object (a retry, or a later event) is history, not work; an object that failed three
  times is re-queued once. Entries without a CRM event (QuickBooks -> CRM) cannot be re-run
  from here and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.models import CrmEvent, SyncLogEntry
from app.models.states import SyncState
from app.repositories import crm_events, sync_log
from app.services.job_queue import defer_crm_event
from app.services.locations import require_connection


class EntryNotFoundError(AppError):
    http_status = 404
    public_code = "not_found"


class NotRetryableError(AppError):
    http_status = 409
    public_code = "not_retryable"


@dataclass(frozen=True, slots=True)
class RetryQueued:
    entry_id: int
    event_id: str
    event_row_id: int


async def retry_entry(
    session: AsyncSession, job_app: App, location_id: str, entry_id: int
) -> RetryQueued:
    connection = await require_connection(session, location_id)
    entry = await sync_log.get(session, connection.id, entry_id)
    if entry is None:
        raise EntryNotFoundError(f"sync-log entry {entry_id} does not exist for {location_id}")
    if entry.state is not SyncState.FAILED or entry.crm_event_id is None:
        raise NotRetryableError(
            f"sync-log entry {entry_id} is {entry.state.value}; only failed CRM entries are retried"
        )
    newest = await _newest_event(session, location_id, entry)
    return await _queue(session, job_app, location_id, entry, newest)


async def retry_all_failed(
    session: AsyncSession, job_app: App, location_id: str
) -> list[RetryQueued]:
    """Re-queue each unresolved CRM failure of the location once, oldest first.

    All in the caller's transaction: every retry is queued, or (on an error) none is."""
    connection = await require_connection(session, location_id)
    failures = await sync_log.unresolved_failures(
        session, connection.id, retryable_only=True, oldest_first=True
    )
    queued: list[RetryQueued] = []
    for entry in failures:
        newest = await _newest_event(session, location_id, entry)
        # Two failures can only share an event if they name no CRM id; one run is enough.
        if all(item.event_row_id != newest.id for item in queued):
            queued.append(await _queue(session, job_app, location_id, entry, newest))
    return queued


async def _newest_event(session: AsyncSession, location_id: str, entry: SyncLogEntry) -> CrmEvent:
    """The newest snapshot of the entry's CRM object: a retry never re-applies an older one."""
    assert entry.crm_event_id is not None
    source = await crm_events.get(session, entry.crm_event_id)
    assert source is not None  # retention keeps the event of an unresolved failure
    newest = await crm_events.newest_for_object(
        session, location_id, source.object_kind, source.object_id
    )
    assert newest is not None
    return newest


async def requeue(
    session: AsyncSession, job_app: App, location_id: str, event: CrmEvent, reason: str
) -> None:
    """Run a stored event again through the normal path (its object's lock, the exactly-once
    creates): the retry of a failed entry, and the reconciliation report's Re-sync."""
    await crm_events.reopen(session, event.id, reason)
    await defer_crm_event(
        session,
        job_app,
        location_id=location_id,
        object_kind=event.object_kind,
        object_id=event.object_id,
        row_id=event.id,
    )


async def _queue(
    session: AsyncSession, job_app: App, location_id: str, entry: SyncLogEntry, event: CrmEvent
) -> RetryQueued:
    await requeue(
        session, job_app, location_id, event, f"retry of sync-log entry {entry.id} requested"
    )
    return RetryQueued(entry_id=entry.id, event_id=event.event_id, event_row_id=event.id)
