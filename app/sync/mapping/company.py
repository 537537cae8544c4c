"""Company facts (C3) from QBO's CompanyInfo and Preferences: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_US = {"US", "USA", "UNITED STATES"}


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    name: str | None
    country: str | None
    home_currency: str | None
    multicurrency: bool
    sales_tax_mode: str
    custom_txn_numbers: bool

    @property
    def is_us(self) -> bool:
        return (self.country or "").upper() in _US


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _country(company: dict[str, Any]) -> str | None:
    # Since 2025 QBO returns ISO alpha-3 in addresses; the top-level field may still be alpha-2.
    raw = company.get("Country") or _get(company, "CompanyAddr", "Country")
    if not isinstance(raw, str) or not raw.strip():
        return None
    value = raw.strip().upper()
    return "US" if value in _US else value[:3]


def _tax_mode(preferences: dict[str, Any], is_us: bool) -> str:
    if _get(preferences, "TaxPrefs", "PartnerTaxEnabled") is True or (
        is_us and _get(preferences, "TaxPrefs", "UsingSalesTax") is not False
    ):
        return "automated"
    if _get(preferences, "TaxPrefs", "UsingSalesTax") is True:
        return "tax_codes"
    return "none"


def company_facts(company: dict[str, Any], preferences: dict[str, Any]) -> CompanyFacts:
    country = _country(company)
    is_us = country == "US"
    currency = _get(preferences, "CurrencyPrefs", "HomeCurrency", "value")
    return CompanyFacts(
        name=company.get("CompanyName") or company.get("LegalName"),
        country=country,
        home_currency=currency if isinstance(currency, str) else ("USD" if is_us else None),
        multicurrency=_get(preferences, "CurrencyPrefs", "MultiCurrencyEnabled") is True,
        sales_tax_mode=_tax_mode(preferences, is_us),
        custom_txn_numbers=_get(preferences, "SalesFormsPrefs", "CustomTxnNumbers") is True,
    )
