"""What an operator does with the callback outbox: list a location's callbacks, resend failed ones.

A callback is `failed` when the CRM refused its content or after the give-up time
(CRM_CALLBACK_GIVE_UP_AFTER_S) of a CRM outage (app/sync/callback_delivery.py). Once the CRM is
fixed, a resend makes those callbacks due again and wakes the deliverer in the same transaction.
The CRM deduplicates on `id`, so resending one it did receive after all is harmless.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.logging import get_logger
from app.models import CrmCallback
from app.models.states import CallbackState
from app.repositories import connections, crm_callbacks
from app.services.callback_delivery import wake_deliverer_in
from app.services.locations import UnknownLocationError

log = get_logger(__name__)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC (what an operator typing a date means here)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def _known(session: AsyncSession, location_id: str) -> None:
    if await connections.get_by_location(session, location_id) is None:
        raise UnknownLocationError(location_id)


async def list_callbacks(
    session: AsyncSession,
    location_id: str,
    *,
    state: CallbackState | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[CrmCallback]:
    await _known(session, location_id)
    return await crm_callbacks.search(
        session, location_id, state=state, since=as_utc(since), limit=limit
    )


async def resend_failed(
    session: AsyncSession,
    job_app: App,
    location_id: str,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Make the location's failed callbacks (written at or after `since`) due now."""
    await _known(session, location_id)
    ids = await crm_callbacks.resend_failed(
        session, location_id, since=as_utc(since), now=now or datetime.now(UTC)
    )
    if ids:
        await wake_deliverer_in(session, job_app)
    log.info(
        "crm.callback.resent",
        location_id=location_id,
        count=len(ids),
        since=since.isoformat() if since else None,
    )
    return ids
