"""What the doctor reports: checks, each ok | warn | fail, a plain sentence and what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from app.integrations.quickbooks.entities import Account, CompanyInfo, Preferences
from app.integrations.quickbooks.tax_codes import CompanyTaxCode

Status = Literal["ok", "warn", "fail"]
SEVERITY: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    status: Status
    title: str
    message: str
    action: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def worst(checks: list[Check]) -> Status:
    return max((c.status for c in checks), key=SEVERITY.__getitem__, default="ok")


@dataclass(frozen=True, slots=True)
class CompanyRead:
    """The QuickBooks side, as read for one run."""

    preferences: Preferences
    info: CompanyInfo
    accounts: list[Account]
    tax_codes: list[CompanyTaxCode]


@dataclass(frozen=True, slots=True)
class LocalFacts:
    """Our side: the connection's settings and tokens, and what the CRM has sent lately."""

    now: datetime
    country: str | None
    home_currency: str | None
    us_tax_mode: str
    income_account_id: str | None
    deposit_account_id: str | None
    fee_expense_account_id: str | None
    connected_at: datetime | None
    token_refreshed_at: datetime | None
    refresh_token_expires_at: datetime | None
    last_webhook_at: datetime | None
    failed_waiting: int
    # From the newest CRM invoice and payment events: currencies with their counts, combined
    # line tax rates (0 for an untaxed line), whether any line carried tax, document dates.
    crm_currencies: dict[str, int] = field(default_factory=dict)
    crm_rates: set[Decimal] = field(default_factory=set)
    crm_dates: list[date] = field(default_factory=list)
    crm_documents: int = 0

    @property
    def is_us(self) -> bool:
        return (self.country or "US").upper() in {"US", "USA"}

    @property
    def crm_taxed(self) -> bool:
        return any(rate != 0 for rate in self.crm_rates)


@dataclass(frozen=True, slots=True)
class DoctorReport:
    location_id: str
    checked_at: datetime
    trigger: str
    checks: list[Check]
    # Deposit account choices: [{"id", "name", "type"}] (Bank and Other Current Asset, active).
    accounts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> Status:
        return worst(self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "checked_at": self.checked_at.isoformat(),
            "trigger": self.trigger,
            "status": self.worst,
            "checks": [check.as_json() for check in self.checks],
            "deposit_accounts": self.accounts,
        }
