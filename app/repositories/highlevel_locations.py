"""SQL for HighLevel locations (the Marketplace app's installs, tokens and poll state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import HighLevelLocation
from app.repositories import connections


async def register(
    session: AsyncSession, location_id: str, company_id: str | None, installed_at: datetime
) -> HighLevelLocation:
    """Record an install (again after an uninstall), and the location's generic connection row.

    The connection row lets `GET /v1/connections/{location_id}` know the location before
    QuickBooks is connected; an existing one is left as it is.
    """
    await session.execute(
        insert(HighLevelLocation)
        .values(location_id=location_id, company_id=company_id, installed_at=installed_at)
        .on_conflict_do_update(
            index_elements=[HighLevelLocation.location_id],
            set_={
                "company_id": company_id,
                "installed_at": installed_at,
                "uninstalled_at": None,
            },
        )
    )
    await connections.register_location(
        session, location_id, import_invoices=False, review_automation=False
    )
    location = await get(session, location_id)
    assert location is not None
    return location


async def uninstall(session: AsyncSession, location_id: str, at: datetime) -> None:
    """Stop a location: its tokens are forgotten (HighLevel revokes them on uninstall)."""
    await session.execute(
        update(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .values(
            uninstalled_at=at,
            access_token_enc=None,
            refresh_token_enc=None,
            token_expires_at=None,
        )
    )


async def get(session: AsyncSession, location_id: str) -> HighLevelLocation | None:
    result = await session.execute(
        select(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_for_update(session: AsyncSession, location_id: str) -> HighLevelLocation | None:
    result = await session.execute(
        select(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def installed(session: AsyncSession) -> list[HighLevelLocation]:
    """Every location whose app is installed, in location order."""
    result = await session.execute(
        select(HighLevelLocation)
        .where(HighLevelLocation.uninstalled_at.is_(None))
        .order_by(HighLevelLocation.location_id)
    )
    return list(result.scalars().all())


async def is_installed(session: AsyncSession, location_id: str) -> bool:
    result = await session.execute(
        select(HighLevelLocation.location_id).where(
            HighLevelLocation.location_id == location_id,
            HighLevelLocation.uninstalled_at.is_(None),
        )
    )
    return result.scalar_one_or_none() is not None


async def set_watermark(session: AsyncSession, location_id: str, at: datetime) -> None:
    """Move the poll watermark forward (never back) and record the poll."""
    location = await get_for_update(session, location_id)
    if location is None:
        return
    if location.poll_watermark is None or at > location.poll_watermark:
        location.poll_watermark = at
    location.last_polled_at = at
    await session.flush()


async def touch_webhook(session: AsyncSession, location_id: str, at: datetime) -> None:
    await session.execute(
        update(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .values(last_webhook_at=at)
    )


@dataclass(frozen=True, slots=True)
class StoredTokens:
    access_token_enc: str | None
    refresh_token_enc: str | None
    expires_at: datetime | None
    refreshed_at: datetime | None


async def get_tokens(session: AsyncSession, location_id: str) -> StoredTokens | None:
    """The location's encrypted tokens; None when it is unknown or uninstalled."""
    location = await get(session, location_id)
    if location is None or not location.installed:
        return None
    return StoredTokens(
        location.access_token_enc,
        location.refresh_token_enc,
        location.token_expires_at,
        location.token_refreshed_at,
    )


async def set_tokens(
    session: AsyncSession,
    location_id: str,
    *,
    access_token_enc: str,
    refresh_token_enc: str,
    expires_at: datetime,
    refreshed_at: datetime,
    scopes: str | None = None,
) -> None:
    values: dict[str, object] = {
        "access_token_enc": access_token_enc,
        "refresh_token_enc": refresh_token_enc,
        "token_expires_at": expires_at,
        "token_refreshed_at": refreshed_at,
    }
    if scopes is not None:
        values["scopes"] = scopes
    await session.execute(
        update(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .values(**values)
    )


async def record_api_outcome(
    session: AsyncSession, location_id: str, at: datetime, error: str | None
) -> None:
    """Connection health for the card: the last success, or the last failure and its reason."""
    values: dict[str, object] = (
        {"last_api_ok_at": at, "last_api_error": None}
        if error is None
        else {"last_api_error": error[:500], "last_api_error_at": at}
    )
    await session.execute(
        update(HighLevelLocation)
        .where(HighLevelLocation.location_id == location_id)
        .values(**values)
    )
