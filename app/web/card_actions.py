"""What the card's buttons do. Each returns a notice code the card turns back into words.

A button never ends in an error page: what went wrong is said on the card, next to what to do.
"""

from __future__ import annotations

from urllib.parse import urlencode

from app.db.session import session_scope
from app.logging import get_logger
from app.repositories import connections
from app.services.locations import UnknownLocationError
from app.state import AppState
from app.sync.connections import admin as connections_admin
from app.sync.connections import release as company_release
from app.sync.connections.connect import ConnectRequestError, LocationIdError
from app.sync.connections.retry import (
    EntryNotFoundError,
    NotRetryableError,
    retry_all_failed,
    retry_entry,
)
from app.sync.mapping.us import US_TAX_MODES, UsTaxMode

log = get_logger(__name__)

NOTICES = {
    "doctor_ran": ("ok", "The health check ran again; its results are below."),
    "doctor_failed": ("error", "The health check could not run; try again in a moment."),
    "deposit_set": ("ok", "New payments will be deposited to the chosen account."),
    "deposit_refused": ("error", "That account cannot take deposits; nothing changed."),
    "connected": ("ok", "QuickBooks is connected."),
    "highlevel_installed": (
        "ok",
        "The app is installed on this HighLevel sub-account. Now connect QuickBooks.",
    ),
    "review_on": ("ok", "Review automation is on."),
    "review_off": ("ok", "Review automation is off."),
    "us_tax_fold": (
        "ok",
        "Sales tax is now included in the item amounts of new QuickBooks documents.",
    ),
    "us_tax_post": ("ok", "Sales tax is now recorded as sales tax on new QuickBooks documents."),
    "us_tax_unknown": ("error", "Choose one of the two sales tax options; nothing changed."),
    "disconnected": ("ok", "QuickBooks is disconnected. Nothing already synced was removed."),
    "retry_queued": ("ok", "Retry started. Refresh in a few seconds to see the result."),
    "retry_all_queued": ("ok", "Retry started for every failed record. Refresh to see results."),
    "nothing_to_retry": ("ok", "There is nothing left to retry."),
    "not_retryable": ("error", "That record can no longer be retried from here; refresh."),
    "not_connected": ("error", "This location is not connected to QuickBooks."),
    "released": (
        "ok",
        "The QuickBooks company was released. Connect the right company when you are ready.",
    ),
    "no_company": ("error", "No QuickBooks company is linked to this location; nothing changed."),
    "location_refused": (
        "error",
        "This location id cannot be connected: only letters, digits, '_' and '-' are allowed.",
    ),
    "connect_refused": (
        "error",
        "The connection could not be started because this page's address is not an allowed "
        "return address (CRM_RETURN_URL_ORIGINS).",
    ),
}


def card_url(base_url: str, token: str, **params: str) -> str:
    return f"{base_url.rstrip('/')}/v1/card?{urlencode({'token': token, **params})}"


async def start_connect(
    state: AppState, location_id: str, token: str, *, import_invoices: bool, review: bool
) -> str:
    """The URL to send the browser to: the connect link, coming back to this card."""
    try:
        link = await state.connect.start(
            location_id=location_id,
            import_invoices=import_invoices,
            review_automation=review,
            return_url=card_url(state.settings.public_base_url, token),
        )
    except LocationIdError:
        log.warning("card.connect_refused", location_id=location_id, error="location_id")
        return card_url("", token, notice="location_refused")
    except ConnectRequestError as exc:
        log.warning("card.connect_refused", location_id=location_id, error=str(exc))
        return card_url("", token, notice="connect_refused")
    return link.url


async def reconnect_settings(state: AppState, location_id: str) -> tuple[bool, bool]:
    """A reconnect keeps the connection's settings as they are."""
    async with session_scope(state.session_factory) as session:
        connection = await connections.get_by_location(session, location_id)
    if connection is None:
        return False, False
    return connection.import_invoices, connection.review_automation


async def set_review(state: AppState, location_id: str, enabled: bool) -> str:
    try:
        async with session_scope(state.session_factory) as session:
            await connections_admin.set_review_automation(session, location_id, enabled)
    except UnknownLocationError:
        return "not_connected"
    return "review_on" if enabled else "review_off"


async def set_us_tax_mode(state: AppState, location_id: str, mode: str) -> str:
    if mode not in US_TAX_MODES:
        return "us_tax_unknown"
    chosen: UsTaxMode = "post" if mode == "post" else "fold"
    try:
        async with session_scope(state.session_factory) as session:
            await connections_admin.set_us_tax_mode(session, location_id, chosen)
    except UnknownLocationError:
        return "not_connected"
    return f"us_tax_{mode}"


async def disconnect(state: AppState, location_id: str) -> str:
    try:
        await connections_admin.disconnect(state.session_factory, state.services, location_id)
    except UnknownLocationError:
        return "not_connected"
    return "disconnected"


async def release(state: AppState, location_id: str) -> str:
    """Disconnect if still connected, then let go of the company (see app/sync/company_release)."""
    try:
        await company_release.release_company(state.session_factory, state.services, location_id)
    except UnknownLocationError:
        return "not_connected"
    except company_release.NoCompanyError:
        return "no_company"
    return "released"


async def retry_one(state: AppState, location_id: str, entry_id: int) -> str:
    try:
        async with session_scope(state.session_factory) as session:
            await retry_entry(session, state.job_app, location_id, entry_id)
    except (EntryNotFoundError, NotRetryableError, UnknownLocationError) as exc:
        log.info("card.retry_refused", location_id=location_id, entry_id=entry_id, error=str(exc))
        return "not_retryable"
    return "retry_queued"


async def retry_all(state: AppState, location_id: str) -> str:
    """Retry all failed, as the API and the CLI do (app/sync/connections/retry.py)."""
    try:
        async with session_scope(state.session_factory) as session:
            queued = await retry_all_failed(session, state.job_app, location_id)
    except UnknownLocationError:
        return "not_connected"
    return "retry_all_queued" if queued else "nothing_to_retry"
