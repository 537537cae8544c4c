"""The doctor's rules about the connection itself: tokens, webhooks, failures (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.sync.doctor.model import Check, LocalFacts

# Intuit's refresh-token policy (blog 2025-11-12, qbo-api.md §1.5 and Corrections 9): a refresh
# token lives 100 days, rolling, and no authorization lasts more than 5 years; Intuit warns the
# customer 30 days before. We date the 5 years from the connect that issued the first token
# (a reconnect is a new authorization).
HARD_CAP = timedelta(days=5 * 365 + 1)
WARN_BEFORE = timedelta(days=30)
# The keep-alive job refreshes idle realms daily; older than this means it is not running.
STALE_REFRESH = timedelta(days=7)
WEBHOOK_QUIET = timedelta(days=14)


def _day(value: datetime) -> str:
    return value.date().isoformat()


def refresh_token(local: LocalFacts) -> Check:
    title = "QuickBooks sign-in"
    now = local.now
    expires = local.refresh_token_expires_at
    if expires is None:
        return Check(
            "refresh_token",
            "fail",
            title,
            "No QuickBooks sign-in is stored.",
            "Connect QuickBooks on this card.",
        )
    hard = local.connected_at + HARD_CAP if local.connected_at is not None else None
    age = now - local.token_refreshed_at if local.token_refreshed_at is not None else None
    facts = f"Last refreshed {age.days} day(s) ago; " if age is not None else ""
    facts += f"valid until {_day(expires)} unless refreshed"
    facts += f"; Intuit's 5-year limit ends it on {_day(hard)}." if hard is not None else "."
    reconnect = "Reconnect on this card (an admin of the QuickBooks company signs in again)."
    if expires <= now or (hard is not None and hard <= now):
        return Check("refresh_token", "fail", title, f"The sign-in has expired. {facts}", reconnect)
    if hard is not None and hard - now <= WARN_BEFORE:
        return Check(
            "refresh_token",
            "warn",
            title,
            f"Intuit's 5-year limit on this sign-in is near. {facts}",
            f"{reconnect} Doing it early costs nothing.",
        )
    if expires - now <= WARN_BEFORE or (age is not None and age > STALE_REFRESH):
        return Check(
            "refresh_token",
            "warn",
            title,
            f"The sign-in is not being refreshed. {facts}",
            "Make sure the worker runs; if this stays, reconnect.",
        )
    return Check("refresh_token", "ok", title, facts)


def webhooks(local: LocalFacts, cdc_minutes: int) -> Check:
    title = "QuickBooks webhooks"
    poll = f"changes made in QuickBooks still arrive through the check every {cdc_minutes} min"
    if local.last_webhook_at is None:
        return Check(
            "webhooks",
            "warn",
            title,
            f"No webhook has been received from this company yet; {poll}.",
            "Make sure the app's webhook URL (/v1/qbo/webhooks) is set in the Intuit developer "
            "portal with Customer, Invoice and Payment events; then edit a customer in "
            "QuickBooks and run this check again.",
        )
    quiet = local.now - local.last_webhook_at
    if quiet > WEBHOOK_QUIET:
        return Check(
            "webhooks",
            "warn",
            title,
            f"The last webhook from this company came on {_day(local.last_webhook_at)}; {poll}.",
            "If the company is in use, check the webhook settings in the Intuit developer portal.",
        )
    return Check(
        "webhooks",
        "ok",
        title,
        f"The last webhook from this company came on {_day(local.last_webhook_at)}.",
    )


def failed_entries(local: LocalFacts) -> Check:
    title = "Failed records"
    if local.failed_waiting == 0:
        return Check("failed_entries", "ok", title, "No record is waiting for a retry.")
    return Check(
        "failed_entries",
        "warn",
        title,
        f"{local.failed_waiting} record(s) failed and wait for a retry.",
        "Fix the cause shown under Needs attention, then use Retry all failed.",
    )
