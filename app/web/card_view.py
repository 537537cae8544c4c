"""What the card shows, gathered from the connection, its sync log and the CRM events behind it.

Everything here is read-only and worded for the person using the CRM: states become plain
words, and every failure carries what happened, what to do and the trail behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection, SyncLogEntry
from app.models.states import ConnectionStatus, Direction, ImportState, InboundState, SyncState
from app.repositories import connections, crm_events, sync_log
from app.sync import sync_log as sync_log_service
from app.sync.doctor import run as doctor
from app.sync.doctor.model import DoctorReport

# The newest entries, for the last sync time and the activity list.
RECENT_WINDOW = 500
# Failures are those "retry all failed" re-runs (and QuickBooks -> CRM ones, shown without a
# Retry): the newest entry of their object failed (app/repositories/sync_log.py).
FAILURES_SHOWN = 25
ACTIVITY_SHOWN = 8

_COUNTRIES = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "UK": "United Kingdom",
    "AU": "Australia",
    "NZ": "New Zealand",
    "IE": "Ireland",
    "IN": "India",
    "FR": "France",
    "ZA": "South Africa",
}
_DIRECTIONS = {
    Direction.CRM_TO_QBO: "CRM to QuickBooks",
    Direction.QBO_TO_CRM: "QuickBooks to CRM",
}
_WAITING = {InboundState.PENDING, InboundState.PROCESSING}


@dataclass(frozen=True, slots=True)
class Health:
    key: str  # active | needs_reconnect | disconnected | not_connected
    label: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Progress:
    label: str
    done: int
    total: int | None


@dataclass(frozen=True, slots=True)
class DirectionCounts:
    label: str
    synced: int
    skipped: int
    failed: int
    pending: int


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    detail: str
    when: datetime | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    entry_id: int
    record: str
    message: str
    action: str
    when: datetime
    retryable: bool
    retry_queued: bool
    timeline: list[Step]


@dataclass(frozen=True, slots=True)
class Activity:
    record: str
    direction: str
    state: str
    message: str
    when: datetime


@dataclass(frozen=True, slots=True)
class CardView:
    location_id: str
    connected: bool
    health: Health
    import_invoices: bool = False
    review_automation: bool = False
    us_tax_mode: str | None = None  # set for a US company only (the choice is US-specific)
    company_name: str | None = None
    realm_id: str | None = None
    region: str | None = None
    currency: str | None = None
    importing: bool = False
    import_summary: str | None = None
    progress: list[Progress] = field(default_factory=list)
    counts: list[DirectionCounts] = field(default_factory=list)
    last_sync: datetime | None = None
    failures: list[Failure] = field(default_factory=list)
    failures_total: int = 0
    activity: list[Activity] = field(default_factory=list)
    # The settings doctor's last result (None until it first ran) and the deposit account.
    doctor: DoctorReport | None = None
    deposit_account_id: str | None = None


NOT_CONNECTED = Health(
    "not_connected",
    "Not connected",
    "Connect a QuickBooks Online company to start syncing invoices, payments and contacts.",
)


def health_of(connection: Connection) -> Health:
    if connection.status is ConnectionStatus.ACTIVE:
        return Health("active", "Active", "Syncing normally.")
    if connection.status is ConnectionStatus.NEEDS_RECONNECT:
        reason = connection.status_reason or "QuickBooks no longer accepts the stored sign-in."
        return Health(
            "needs_reconnect",
            "Needs reconnect",
            f"{reason} Syncing is paused and nothing is lost: reconnect to resume where it "
            "stopped.",
        )
    if connection.status is ConnectionStatus.DISCONNECTED:
        return Health(
            "disconnected",
            "Disconnected",
            "Syncing has stopped; nothing already synced was removed. Connect again to resume.",
        )
    return NOT_CONNECTED


def record_name(entry: SyncLogEntry) -> str:
    kind = entry.kind.replace("_", " ").capitalize()
    ref = entry.crm_id or (f"QuickBooks #{entry.qbo_id}" if entry.qbo_id else None)
    return f"{kind} {ref}" if ref else kind


def _is_us(country: str | None) -> bool:
    return (country or "").upper() in {"US", "USA"}


def region_name(country: str | None) -> str | None:
    if country is None:
        return None
    return _COUNTRIES.get(country.upper(), country)


def currency_text(connection: Connection) -> str | None:
    if connection.home_currency is None:
        return None
    if connection.multicurrency:
        return f"{connection.home_currency} (multicurrency on)"
    return connection.home_currency


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def import_progress(connection: Connection) -> tuple[bool, str | None, list[Progress]]:
    """Whether the first import still runs, a sentence about it, and a bar per kind."""
    state = connection.import_phase
    if state is None:
        return False, None, []
    bars = [
        Progress(kind.capitalize(), _int(entry.get("done")) or 0, _int(entry.get("total")))
        for kind, entry in sorted(connection.import_progress.items())
        if isinstance(entry, dict)
    ]
    if state is ImportState.DONE:
        done = ", ".join(f"{bar.done} {bar.label.lower()}" for bar in bars)
        return False, f"Import from QuickBooks finished{': ' + done if done else ''}.", bars
    if state is ImportState.QUEUED or (state is ImportState.RUNNING and not bars):
        return True, "Importing existing records from QuickBooks starts in a moment.", bars
    if state is ImportState.RUNNING:
        return True, "Importing existing records from QuickBooks.", bars
    # "paused: needs_reconnect", "failed: ..." and the like: say it as it is.
    return True, f"Import from QuickBooks: {connection.import_state}.", bars


def counts_by_direction(totals: dict[str, dict[str, int]]) -> list[DirectionCounts]:
    rows = []
    for direction, label in _DIRECTIONS.items():
        states = totals.get(direction.value, {})
        rows.append(
            DirectionCounts(
                label=label,
                synced=states.get(SyncState.SYNCED.value, 0),
                skipped=states.get(SyncState.SKIPPED.value, 0),
                failed=states.get(SyncState.FAILED.value, 0),
                pending=states.get(SyncState.PENDING.value, 0),
            )
        )
    return rows


def _plain(text: str | None, fallback: str) -> str:
    return text.strip() if text and text.strip() else fallback


async def failure_of(session: AsyncSession, entry: SyncLogEntry) -> Failure:
    event = await crm_events.get(session, entry.crm_event_id) if entry.crm_event_id else None
    timeline = []
    if event is not None:
        timeline.append(Step("Event received from the CRM", event.type, event.received_at))
    else:
        timeline.append(Step("Change noticed in QuickBooks", record_name(entry), entry.created_at))
    requests = f"{entry.qbo_requests} request{'s' if entry.qbo_requests != 1 else ''} sent"
    reference = (
        f"; QuickBooks reference (intuit_tid) {entry.intuit_tid}" if entry.intuit_tid else ""
    )
    code = f"; error code {entry.qbo_error_code}" if entry.qbo_error_code else ""
    timeline.append(Step("QuickBooks requests", f"{requests}{code}{reference}"))
    timeline.append(
        Step("Result: failed", _plain(entry.message, "No message was recorded."), entry.created_at)
    )
    return Failure(
        entry_id=entry.id,
        record=record_name(entry),
        message=_plain(entry.message, "The sync failed without a message from QuickBooks."),
        action=_plain(entry.action, "Check the record in the CRM and QuickBooks, then retry."),
        when=entry.created_at,
        retryable=entry.crm_event_id is not None,
        retry_queued=event is not None and event.state in _WAITING,
        timeline=timeline,
    )


def activity_of(entry: SyncLogEntry) -> Activity:
    return Activity(
        record=record_name(entry),
        direction=_DIRECTIONS[entry.direction],
        state=entry.state.value,
        message=entry.message or "",
        when=entry.created_at,
    )


async def load(session: AsyncSession, location_id: str) -> CardView:
    connection = await connections.get_by_location(session, location_id)
    if connection is None:
        return CardView(location_id=location_id, connected=False, health=NOT_CONNECTED)
    if connection.realm_id is None:
        # Registered by a connect attempt that has not finished: still "not connected".
        return CardView(
            location_id=location_id,
            connected=False,
            health=NOT_CONNECTED,
            import_invoices=connection.import_invoices,
            review_automation=connection.review_automation,
        )
    entries = await sync_log_service.entries(session, location_id, limit=RECENT_WINDOW)
    failed = await sync_log.unresolved_failures(session, connection.id, limit=FAILURES_SHOWN)
    importing, summary, bars = import_progress(connection)
    synced = next((e for e in entries if e.state is SyncState.SYNCED), None)
    return CardView(
        location_id=location_id,
        connected=True,
        health=health_of(connection),
        import_invoices=connection.import_invoices,
        review_automation=connection.review_automation,
        us_tax_mode=connection.us_tax_mode if _is_us(connection.country) else None,
        company_name=connection.company_name,
        realm_id=connection.realm_id,
        region=region_name(connection.country),
        currency=currency_text(connection),
        importing=importing,
        import_summary=summary,
        progress=bars,
        counts=counts_by_direction(await sync_log.counts(session, connection.id)),
        last_sync=synced.created_at if synced is not None else None,
        failures=[await failure_of(session, e) for e in failed],
        failures_total=await sync_log.unresolved_failure_count(session, connection.id),
        activity=[activity_of(e) for e in entries[:ACTIVITY_SHOWN]],
        doctor=await doctor.latest(session, location_id),
        deposit_account_id=connection.deposit_account_id,
    )
