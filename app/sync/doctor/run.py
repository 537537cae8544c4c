"""Run the doctor for a location and store its result; read the stored result back.

The API, the card, the CLI, the connect flow and the daily job all call these. QBO is read
with no database transaction open (read our side, call QBO, then store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.logging import get_logger
from app.repositories import doctor as doctor_rows
from app.services import job_names as names
from app.services.container import Services
from app.services.job_queue import defer_in_transaction
from app.services.locations import require_connection
from app.sync.doctor import checks_company as company_rules
from app.sync.doctor import checks_health as health_rules
from app.sync.doctor.facts import read_company, read_local
from app.sync.doctor.model import Check, CompanyRead, DoctorReport, LocalFacts

log = get_logger(__name__)

TRIGGERS = frozenset({"connect", "daily", "manual"})


class NotConnectedError(AppError):
    """The location has no QuickBooks company yet: there is nothing to check."""

    http_status = 409
    public_code = "not_connected"


def evaluate(company: CompanyRead | None, local: LocalFacts, cdc_minutes: int) -> list[Check]:
    """Every check, in the order shown; without the company, only the checks of our side."""
    checks: list[Check] = []
    if company is not None:
        if local.is_us:
            checks.append(company_rules.sales_tax_us(company, local))
        else:
            checks.append(company_rules.tax_codes(company, local))
        checks.extend(company_rules.currencies(company, local))
        checks.append(company_rules.custom_numbers(company))
        checks.append(company_rules.duplicate_numbers())
        checks.append(company_rules.closing_date(company, local))
        checks.append(company_rules.income_account(company, local))
        checks.extend(company_rules.deposit_account(company, local))
    checks.append(health_rules.refresh_token(local))
    checks.append(health_rules.webhooks(local, cdc_minutes))
    checks.append(health_rules.failed_entries(local))
    return checks


async def run_doctor(
    factory: SessionFactory, services: Services, location_id: str, trigger: str
) -> DoctorReport:
    assert trigger in TRIGGERS
    now = datetime.now(UTC)
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        if connection.realm_id is None:
            raise NotConnectedError(f"location {location_id!r} has no QuickBooks company yet")
        realm_id, connection_id = connection.realm_id, connection.id
        local = await read_local(session, connection, now)
    company: CompanyRead | None = None
    unreadable: Check | None = None
    try:
        company = await read_company(services.qbo.realm(realm_id))
    except AppError as exc:
        log.warning("doctor.qbo_unreadable", location_id=location_id, error=str(exc))
        unreadable = Check(
            "qbo_access",
            "fail",
            "Reading QuickBooks",
            f"The company's settings could not be read from QuickBooks: {exc}",
            "Reconnect on this card if QuickBooks no longer accepts the sign-in; otherwise "
            "run the check again later.",
        )
    cdc_minutes = max(1, round(services.settings.worker.cdc_interval_s / 60))
    checks = ([unreadable] if unreadable else []) + evaluate(company, local, cdc_minutes)
    accounts = company_rules.deposit_choices(company.accounts) if company is not None else []
    report = DoctorReport(location_id, now, trigger, checks, accounts)
    async with session_scope(factory) as session:
        await doctor_rows.save(
            session,
            connection_id,
            checked_at=now,
            trigger=trigger,
            worst=report.worst,
            checks=[check.as_json() for check in checks],
            accounts=accounts,
        )
    log.info("doctor.ran", location_id=location_id, trigger=trigger, status=report.worst)
    return report


async def latest(session: AsyncSession, location_id: str) -> DoctorReport | None:
    """The stored result of the last run, or None if the doctor never ran for this location."""
    connection = await require_connection(session, location_id)
    row = await doctor_rows.latest(session, connection.id)
    if row is None:
        return None
    return DoctorReport(
        location_id=location_id,
        checked_at=row.checked_at,
        trigger=row.trigger,
        checks=[_check(item) for item in row.checks],
        accounts=list(row.accounts),
    )


def _check(item: dict[str, Any]) -> Check:
    return Check(
        key=str(item.get("key", "")),
        status=item.get("status", "warn"),
        title=str(item.get("title", "")),
        message=str(item.get("message", "")),
        action=str(item.get("action", "")),
    )


async def run_all(factory: SessionFactory, services: Services, trigger: str) -> int:
    """The daily run: every active connection, one at a time; one failing does not stop others."""
    async with session_scope(factory) as session:
        locations = await doctor_rows.locations_to_check(session)
    for location_id in locations:
        try:
            await run_doctor(factory, services, location_id, trigger)
        except AppError as exc:
            log.warning("doctor.run_failed", location_id=location_id, error=str(exc))
    return len(locations)


async def defer_run(session: AsyncSession, job_app: App, location_id: str) -> None:
    """Queue a doctor run in the caller's transaction (at connect): its result is on the card
    by the time the person is back from Intuit, before the waiting events have synced."""
    try:
        await defer_in_transaction(
            session,
            job_app,
            names.DOCTOR_TASK,
            lock=names.doctor_lock(location_id),
            queueing_lock=names.doctor_lock(location_id),
            location_id=location_id,
            trigger="connect",
        )
    except AlreadyEnqueued:
        log.info("doctor.already_queued", location_id=location_id)
