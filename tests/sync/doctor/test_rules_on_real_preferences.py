"""The doctor's company rules on a real Preferences response (fixtures/preferences-sample.json)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from app.integrations.quickbooks.entities import CompanyInfo, Preferences
from app.sync.doctor import checks_company as rules
from app.sync.doctor.model import CompanyRead, LocalFacts

SAMPLE = Path(__file__).parent / "fixtures" / "preferences-sample.json"


def _company() -> CompanyRead:
    raw = json.loads(SAMPLE.read_text(), parse_float=Decimal)["Preferences"]
    return CompanyRead(Preferences.model_validate(raw), CompanyInfo(), [], [])


def _local(**facts: object) -> LocalFacts:
    base: dict[str, object] = {
        "now": datetime(2026, 12, 4, tzinfo=UTC),
        "country": "US",
        "home_currency": None,
        "us_tax_mode": "fold",
        "income_account_id": None,
        "deposit_account_id": None,
        "fee_expense_account_id": None,
        "connected_at": None,
        "token_refreshed_at": None,
        "refresh_token_expires_at": None,
        "last_webhook_at": None,
        "failed_waiting": 0,
    }
    return LocalFacts(**(base | facts))  # type: ignore[arg-type]


def test_real_preferences_read_as_qbo_sends_them() -> None:
    company = _company()
    assert rules.custom_numbers(company).status == "warn"  # CustomTxnNumbers false
    closed = rules.closing_date(company, _local(crm_dates=[date(2018, 12, 31)]))
    assert closed.status == "fail"
    assert "2018-12-31" in closed.message
    assert rules.closing_date(company, _local(crm_dates=[date(2019, 1, 1)])).status == "warn"
    [home, multi] = rules.currencies(company, _local(crm_currencies={"CAD": 2}))
    assert home.status == "warn"
    assert "USD" in home.message
    assert multi.status == "fail"
    assert "CAD" in multi.message
    # UsingSalesTax true, PartnerTaxEnabled absent (a 2018 company): tax folded in is fine.
    assert rules.sales_tax_us(company, _local(crm_rates={Decimal(7)})).status == "ok"
    assert (
        rules.sales_tax_us(company, _local(crm_rates={Decimal(7)}, us_tax_mode="post")).status
        == "ok"
    )
