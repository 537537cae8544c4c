"""The card's HighLevel section: whether the app is installed and how its API calls are going."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories import highlevel_locations


@dataclass(frozen=True, slots=True)
class HighLevelCard:
    key: str  # ok | error | no_tokens | uninstalled
    label: str
    explanation: str
    installed_at: datetime | None
    last_webhook_at: datetime | None
    last_api_ok_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


async def load(session: AsyncSession, location_id: str) -> HighLevelCard | None:
    """None when the location is not a HighLevel install (a generic CRM location)."""
    location = await highlevel_locations.get(session, location_id)
    if location is None:
        return None
    if not location.installed:
        key, label, why = (
            "uninstalled",
            "Uninstalled",
            "The app was removed from this sub-account; install it again from the Marketplace.",
        )
    elif location.refresh_token_enc is None:
        key, label, why = (
            "no_tokens",
            "Needs install",
            "HighLevel has not authorised this service yet; install the app again.",
        )
    elif location.last_api_error and (
        location.last_api_ok_at is None
        or (location.last_api_error_at or location.last_api_ok_at) > location.last_api_ok_at
    ):
        key, label, why = (
            "error",
            "Problem",
            "The last update sent to HighLevel failed; it is retried automatically.",
        )
    else:
        key, label, why = (
            "ok",
            "Connected",
            "QuickBooks customers reach HighLevel as contacts, and paid first invoices tag them.",
        )
    return HighLevelCard(
        key=key,
        label=label,
        explanation=why,
        installed_at=location.installed_at,
        last_webhook_at=location.last_webhook_at,
        last_api_ok_at=location.last_api_ok_at,
        last_error=location.last_api_error if key == "error" else None,
        last_error_at=location.last_api_error_at if key == "error" else None,
    )
