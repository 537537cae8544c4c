"""The outcome of one flow for one CRM object, before it becomes a sync-log entry and a callback."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import AppError
from app.integrations.quickbooks.errors import QboError
from app.models.states import SyncState


@dataclass(frozen=True, slots=True)
class SyncResult:
    state: SyncState
    kind: str
    crm_id: str
    qbo_id: str | None = None
    message: str | None = None
    action: str | None = None
    error: QboError | None = None


def synced(kind: str, crm_id: str, qbo_id: str | None, message: str | None = None) -> SyncResult:
    return SyncResult(SyncState.SYNCED, kind, crm_id, qbo_id, message)


def skipped(kind: str, crm_id: str, reason: str, qbo_id: str | None = None) -> SyncResult:
    return SyncResult(SyncState.SKIPPED, kind, crm_id, qbo_id, reason)


def failed(
    kind: str,
    crm_id: str,
    message: str,
    action: str | None,
    *,
    qbo_id: str | None = None,
    error: QboError | None = None,
) -> SyncResult:
    return SyncResult(SyncState.FAILED, kind, crm_id, qbo_id, message, action, error)


# The reason of an unexpected exception is cut here: a database error carries its whole SQL.
_REASON_LIMIT = 300


def describe(exc: BaseException) -> str:
    """A one-line, bounded reason for any exception, readable in the sync log and the CRM."""
    if isinstance(exc, QboError):
        text = exc.message
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else ""
        if not isinstance(exc, AppError):
            text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def gave_up(kind: str, crm_id: str, exc: BaseException) -> SyncResult:
    """The final outcome of an object whose last retry failed too, whatever the cause.

    A QuickBooks error keeps its code and element for the sync log; anything else (a query the
    builder refused, no QBO request slot in time, a bug) is named in plain words. Either way the
    entry is failed, the CRM hears it and the card offers Retry.
    """
    if isinstance(exc, QboError):
        return failed(
            kind,
            crm_id,
            f"QuickBooks kept failing and the retries ran out: {exc.message}",
            "Retry this entry once QuickBooks answers again",
            error=exc,
        )
    if isinstance(exc, TimeoutError):
        return failed(
            kind,
            crm_id,
            f"No QuickBooks request could be made in time and the retries ran out: {describe(exc)}",
            "Retry this entry; other work for this QuickBooks company was using its request limit",
        )
    return failed(
        kind,
        crm_id,
        f"This service could not process the event and the retries ran out: {describe(exc)}",
        "Retry this entry once the cause is fixed; if it fails again, report it with the "
        "sync-log entry id",
    )
