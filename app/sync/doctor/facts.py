"""What the doctor's checks read: the QuickBooks company (through the service's QBO client) and
the location's own records (through the repositories)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.quickbooks.client import RealmClient
from app.integrations.quickbooks.entities import Account, TaxCode, TaxRate
from app.integrations.quickbooks.query import Select
from app.models import Connection
from app.repositories import doctor as doctor_rows
from app.repositories import sync_log
from app.sync.doctor.model import CompanyRead, LocalFacts
from app.sync.mapping.regional import company_tax_codes

# How many of the location's newest invoice and payment events stand for "what the CRM sends".
RECENT_DOCUMENTS = 200


async def read_company(realm: RealmClient) -> CompanyRead:
    """Preferences, CompanyInfo, every account (inactive too) and the sales tax codes."""
    preferences = await realm.preferences()
    info = await realm.company_info()
    accounts: list[Account] = []
    async for page in realm.query_all(Select(Account).include_inactive().order_by("Id"), Account):
        accounts.extend(page)
    codes = (await realm.query(Select(TaxCode).order_by("Id"), TaxCode)).items
    rates = (await realm.query(Select(TaxRate).order_by("Id"), TaxRate)).items
    tax_codes = company_tax_codes(
        [code.model_dump(by_alias=True, exclude_none=True) for code in codes],
        [rate.model_dump(by_alias=True, exclude_none=True) for rate in rates],
    )
    return CompanyRead(preferences, info, accounts, tax_codes)


async def read_local(session: AsyncSession, connection: Connection, now: datetime) -> LocalFacts:
    assert connection.realm_id is not None
    documents = await doctor_rows.recent_document_data(
        session, connection.location_id, RECENT_DOCUMENTS
    )
    currencies: Counter[str] = Counter()
    rates: set[Decimal] = set()
    dates: list[date] = []
    for data in documents:
        if isinstance(data.get("currency"), str):
            currencies[data["currency"].upper()] += 1
        rates.update(_line_rates(data.get("line_items")))
        day = _document_date(data)
        if day is not None:
            dates.append(day)
    return LocalFacts(
        now=now,
        country=connection.country,
        home_currency=connection.home_currency,
        us_tax_mode=connection.us_tax_mode,
        income_account_id=connection.income_account_id,
        deposit_account_id=connection.deposit_account_id,
        fee_expense_account_id=connection.fee_expense_account_id,
        connected_at=connection.connected_at,
        token_refreshed_at=connection.token_refreshed_at,
        refresh_token_expires_at=connection.refresh_token_expires_at,
        last_webhook_at=await doctor_rows.last_webhook_at(session, connection.realm_id),
        failed_waiting=await sync_log.unresolved_failure_count(session, connection.id),
        crm_currencies=dict(currencies),
        crm_rates=rates,
        crm_dates=dates,
        crm_documents=len(documents),
    )


def _line_rates(lines: Any) -> set[Decimal]:
    """Each line's combined tax rate (0 for an untaxed line), as the mapping picks codes by."""
    found: set[Decimal] = set()
    for line in lines if isinstance(lines, list) else []:
        taxes = line.get("taxes") if isinstance(line, dict) else None
        total = Decimal(0)
        for tax in taxes if isinstance(taxes, list) else []:
            try:
                total += Decimal(str(tax.get("rate")))
            except (InvalidOperation, AttributeError):
                continue
        found.add(total)
    return found


def _document_date(data: dict[str, Any]) -> date | None:
    # The date QBO gets: an invoice's issue date, a payment's day (as the flows map them).
    raw = data.get("issue_date") or data.get("paid_at")
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None
