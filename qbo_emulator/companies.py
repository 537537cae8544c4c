"""Creating a company (realm) with the lists a fresh QBO company starts with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company

CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "GBP": "British Pound Sterling",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
    "EUR": "Euro",
    "INR": "Indian Rupee",
    "JPY": "Japanese Yen",
    "NZD": "New Zealand Dollar",
}
COUNTRY_CURRENCY = {"US": "USD", "GB": "GBP", "UK": "GBP", "CA": "CAD", "AU": "AUD", "IN": "INR"}
COUNTRY_TAX_CODES: dict[str, list[JSON]] = {
    "GB": [
        {"name": "20.0% S", "rate": "20"},
        {"name": "5.0% R", "rate": "5"},
        {"name": "0.0% Z", "rate": "0"},
    ],
    "CA": [
        {"name": "GST", "rate": "5"},
        {"name": "HST ON", "rate": "13"},
        {"name": "Exempt", "rate": "0"},
    ],
    "AU": [{"name": "GST", "rate": "10"}, {"name": "FRE", "rate": "0"}],
}
DEFAULT_US_RATE = "8.25"
ACCOUNTS = (
    ("Services", "Income", "ServiceFeeIncome"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Checking", "Bank", "Checking"),
    ("Discounts given", "Income", "DiscountsRefundsGiven"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
)
PAYMENT_METHODS = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
)


def currency_ref(code: str) -> JSON:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def create_company(emu: Emulator, spec: dict[str, Any]) -> Company:
    country = str(spec.get("country") or "US").upper()
    if country == "UK":
        country = "GB"
    currency = str(spec.get("currency") or COUNTRY_CURRENCY.get(country, "USD")).upper()
    rate = to_decimal(spec.get("sales_tax_rate", DEFAULT_US_RATE if country == "US" else 0))
    company = Company(
        realm_id=emu.new_realm_id(),
        name=str(spec.get("name") or f"Emulated Company {len(emu.companies) + 1}"),
        country=country,
        currency=currency,
        multicurrency=bool(spec.get("multicurrency", False)),
        sales_tax_rate=rate if rate is not None else Decimal(0),
        custom_txn_numbers=bool(spec.get("custom_txn_numbers", False)),
        created=emu.clock.now(),
    )
    company.automated_sales_tax = company.is_us
    for key in ("honor_requestid", "warn_duplicate_doc_number", "sales_tax", "automated_sales_tax"):
        if key in spec:
            setattr(company, key, bool(spec[key]))
    company.book_close_date = str(spec.get("book_close_date") or "")
    _bootstrap(emu, company, spec.get("tax_codes"))
    emu.companies[company.realm_id] = company
    emu.latest_realm = company.realm_id
    return company


def _meta(emu: Emulator) -> JSON:
    stamp = emu.clock.meta_time()
    return {"CreateTime": stamp, "LastUpdatedTime": stamp}


def _add(emu: Emulator, company: Company, entity: str, data: JSON) -> JSON:
    data = {
        "Id": company.new_id(entity),
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": False,
        **data,
    }
    data["MetaData"] = _meta(emu)
    company.put(entity, data, emu.clock.now())
    return data


def _bootstrap(emu: Emulator, company: Company, tax_codes: Any) -> None:
    _add(emu, company, "CompanyInfo", _company_info(company))
    _add(emu, company, "Preferences", _preferences(company))
    for name, kind, sub in ACCOUNTS:
        account: JSON = {"Name": name, "FullyQualifiedName": name, "AccountType": kind}
        account |= {"AccountSubType": sub, "Active": True, "SubAccount": False}
        account |= {"CurrentBalance": Decimal(0), "CurrencyRef": currency_ref(company.currency)}
        _add(emu, company, "Account", account)
    for name, kind in PAYMENT_METHODS:
        _add(emu, company, "PaymentMethod", {"Name": name, "Type": kind, "Active": True})
    item = {"Name": "Services", "FullyQualifiedName": "Services", "Type": "Service", "Active": True}
    item |= {
        "Taxable": False,
        "UnitPrice": Decimal(0),
        "IncomeAccountRef": account_ref(company, "1"),
    }
    company.item_names["services"] = _add(emu, company, "Item", item)["Id"]
    if company.is_us:
        _us_tax(emu, company)
    else:
        codes = (
            tax_codes
            or COUNTRY_TAX_CODES.get(company.country)
            or [{"name": "Standard", "rate": "0"}]
        )
        for spec in codes:
            _tax_code(emu, company, str(spec["name"]), to_decimal(spec.get("rate")) or Decimal(0))


def account_ref(company: Company, account_id: str) -> JSON:
    record = company.get("Account", account_id)
    return {"value": account_id, "name": record.data["Name"] if record else ""}


def _us_tax(emu: Emulator, company: Company) -> None:
    agency = {"value": "1", "name": "Emulated Tax Agency"}
    rate = _add(emu, company, "TaxRate", _rate("AST Combined Rate", company.sales_tax_rate, agency))
    code = _add(emu, company, "TaxCode", _code("AST", [rate["Id"]], taxable=True))
    company.ast_tax_code_id = code["Id"]
    company.ast_tax_rate_id = rate["Id"]


def _tax_code(emu: Emulator, company: Company, name: str, percent: Decimal) -> None:
    agency = {"value": "1", "name": f"{company.country} Tax Agency"}
    rate = _add(emu, company, "TaxRate", _rate(name, percent, agency))
    _add(emu, company, "TaxCode", _code(name, [rate["Id"]], taxable=percent != 0))


def _rate(name: str, percent: Decimal, agency: JSON) -> JSON:
    return {
        "Name": name,
        "Description": name,
        "Active": True,
        "RateValue": percent,
        "AgencyRef": agency,
    }


def _code(name: str, rate_ids: list[str], *, taxable: bool) -> JSON:
    details = [
        {"TaxRateRef": {"value": rid}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
        for rid in rate_ids
    ]
    return {
        "Name": name,
        "Description": name,
        "Active": True,
        "Taxable": taxable,
        "TaxGroup": True,
        "SalesTaxRateList": {"TaxRateDetail": details},
        "PurchaseTaxRateList": {"TaxRateDetail": []},
    }


def _company_info(company: Company) -> JSON:
    address = {"Id": "1", "Line1": "2600 Marine Way", "City": "Mountain View"}
    address |= {"CountrySubDivisionCode": "CA", "PostalCode": "94043", "Country": company.country}
    return {
        "CompanyName": company.name,
        "LegalName": company.name,
        "CompanyAddr": address,
        "CustomerCommunicationAddr": address,
        "LegalAddr": address,
        "Country": company.country,
        "Email": {"Address": "noreply@example.com"},
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "CompanyStartDate": "2024-01-01",
        "NameValue": [
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            {"Name": "SubscriptionStatus", "Value": "PAID"},
        ],
    }


def sync_preferences(company: Company) -> None:
    """The stored Preferences made to show the company's settings after a control-API change.

    Shapes from a real Preferences response (Craig's Design sandbox, 2018; copied to
    tests/sync/doctor/fixtures/preferences-sample.json): `AccountingInfoPrefs.BookCloseDate` is a
    "YYYY-MM-DD" string, `TaxPrefs.UsingSalesTax` a boolean; `PartnerTaxEnabled` as in Intuit's
    Preferences reference (qbo-api.md §6.7). UNKNOWN: whether QBO omits BookCloseDate or sends
    null when no closing date is set (omitted here, as QBO omits unset fields elsewhere).
    """
    record = next(company.live("Preferences"), None)
    if record is None:
        return
    fresh = _preferences(company)
    for section in ("TaxPrefs", "AccountingInfoPrefs"):
        record.data[section] = fresh[section]
    record.data["CurrencyPrefs"]["MultiCurrencyEnabled"] = company.multicurrency
    record.data["SalesFormsPrefs"]["CustomTxnNumbers"] = company.custom_txn_numbers


def _preferences(company: Company) -> JSON:
    accounting: JSON = {"CustomerTerminology": "Customers"}
    if company.book_close_date:
        accounting["BookCloseDate"] = company.book_close_date
    return {
        "TaxPrefs": {
            "UsingSalesTax": company.sales_tax,
            "PartnerTaxEnabled": company.automated_sales_tax,
        },
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": company.multicurrency,
            "HomeCurrency": {"value": company.currency},
        },
        "SalesFormsPrefs": {
            "CustomTxnNumbers": company.custom_txn_numbers,
            "AllowDiscount": True,
            "AllowDeposit": True,
            "AutoApplyPayments": False,
            "AutoApplyCredit": True,
        },
        "AccountingInfoPrefs": accounting,
        "OtherPrefs": {"NameValue": []},
    }
