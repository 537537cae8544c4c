"""Retrying a failed sync-log entry: re-run its CRM object with the newest snapshot we hold."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.models.states import SyncState
from app.repositories import connections, crm_events, sync_log
from app.services.intake import UnknownLocationError
from app.services.job_queue import defer_crm_event


class EntryNotFoundError(AppError):
    pass


class NotRetryableError(AppError):
    pass


@dataclass(frozen=True, slots=True)
class RetryQueued:
    entry_id: int
    event_id: str


async def retry_entry(
    session: AsyncSession, job_app: App, location_id: str, entry_id: int
) -> RetryQueued:
    connection = await connections.get_by_location(session, location_id)
    if connection is None:
        raise UnknownLocationError(location_id)
    entry = await sync_log.get(session, connection.id, entry_id)
    if entry is None:
        raise EntryNotFoundError(f"sync-log entry {entry_id} does not exist for {location_id}")
    if entry.state is not SyncState.FAILED or entry.crm_event_id is None:
        raise NotRetryableError(
            f"sync-log entry {entry_id} is {entry.state.value}; only failed CRM entries are retried"
        )
    source = await crm_events.get(session, entry.crm_event_id)
    assert source is not None
    newest = await crm_events.newest_for_object(
        session, location_id, source.object_kind, source.object_id
    )
    assert newest is not None
    await crm_events.reopen(session, newest.id, f"retry of sync-log entry {entry_id} requested")
    await defer_crm_event(
        session,
        job_app,
        location_id=location_id,
        object_kind=newest.object_kind,
        object_id=newest.object_id,
        row_id=newest.id,
    )
    return RetryQueued(entry_id=entry_id, event_id=newest.event_id)
