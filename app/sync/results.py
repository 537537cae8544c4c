"""The outcome of one flow for one CRM object, before it becomes a sync-log entry and a callback."""

from __future__ import annotations

from dataclasses import dataclass

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
