"""The doctor's rules about the QuickBooks company's settings (pure: facts in, checks out)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from app.integrations.crm.schemas import Tax
from app.integrations.quickbooks.entities import Account
from app.sync.doctor.model import Check, CompanyRead, LocalFacts
from app.sync.mapping.regional import choose_code

# Where QBO deposits a payment or receipt that names no account (Intuit's SalesReceipt and
# Payment references: DepositToAccountRef defaults to Undeposited Funds).
UNDEPOSITED_SUBTYPE = "UndepositedFunds"
DEPOSIT_TYPES = frozenset({"Bank", "Other Current Asset"})
FEE_TYPES = frozenset({"Expense", "Other Expense", "Cost of Goods Sold"})
TAX_SETTINGS = "Settings → Taxes"
ADVANCED = "Settings → Account and settings → Advanced"


def _rates(rates: Iterable[Decimal]) -> str:
    return ", ".join(f"{rate.normalize():f} %" for rate in sorted(rates))


def sales_tax_us(company: CompanyRead, local: LocalFacts) -> Check:
    prefs = company.preferences.TaxPrefs
    automated = prefs is not None and prefs.PartnerTaxEnabled is True
    on = automated or (prefs is not None and prefs.UsingSalesTax is True)
    title = "Sales tax (US)"
    if not local.crm_taxed:
        state = "on" if on else "off"
        return Check(
            "sales_tax",
            "ok",
            title,
            f"Sales tax is {state} in QuickBooks and the "
            "CRM's recent documents carry no tax: nothing to reconcile.",
        )
    if local.us_tax_mode == "post" and not on:
        return Check(
            "sales_tax",
            "fail",
            title,
            "The CRM charges sales tax and this connection records it as sales tax, but sales "
            "tax is off in QuickBooks: documents cannot carry it.",
            f'Turn sales tax on in QuickBooks ({TAX_SETTINGS}), or choose "Include in item '
            'amounts" under Settings on this card.',
        )
    if local.us_tax_mode == "fold" and automated:
        return Check(
            "sales_tax",
            "warn",
            title,
            "QuickBooks calculates sales tax automatically, while the CRM's tax is included in "
            "the item amounts: QuickBooks' sales tax reports will not show the tax the CRM "
            "charged.",
            'If you file sales tax from QuickBooks, choose "Record as sales tax" under '
            "Settings on this card.",
        )
    return Check(
        "sales_tax",
        "ok",
        title,
        "The CRM's sales tax is recorded the way this connection is set up to record it.",
    )


def tax_codes(company: CompanyRead, local: LocalFacts) -> Check:
    title = "Tax codes for the CRM's tax rates"
    if not local.crm_rates:
        return Check("tax_codes", "ok", title, "No CRM documents yet; checked again daily.")
    missing = {
        rate for rate in local.crm_rates if choose_code(_taxes(rate), company.tax_codes) is None
    }
    if not missing:
        return Check(
            "tax_codes",
            "ok",
            title,
            "Every tax rate in the CRM's recent documents "
            f"({_rates(local.crm_rates)}) has a matching QuickBooks tax code.",
        )
    return Check(
        "tax_codes",
        "fail",
        title,
        f"QuickBooks has no active sales tax code for {_rates(missing)}, used in the CRM's "
        "recent documents: those documents will fail.",
        f"Add a tax rate of {_rates(missing)} in QuickBooks ({TAX_SETTINGS}), or correct the "
        "rate in the CRM, then retry the failed records.",
    )


def _taxes(rate: Decimal) -> list[Tax]:
    # One CRM tax of the combined rate: choose_code matches codes on the sum of a line's rates.
    return [Tax(name=f"{rate}", rate=rate)] if rate != 0 else []


def currencies(company: CompanyRead, local: LocalFacts) -> list[Check]:
    prefs = company.preferences.CurrencyPrefs
    home_ref = prefs.HomeCurrency if prefs is not None else None
    home = (home_ref.value if home_ref is not None else None) or local.home_currency
    multi = prefs is not None and prefs.MultiCurrencyEnabled is True
    foreign = sorted(c for c in local.crm_currencies if home is None or c.upper() != home.upper())
    checks = [_home_currency(home, local)]
    title = "Multicurrency"
    if not foreign:
        state = "on" if multi else "off"
        checks.append(
            Check(
                "multicurrency",
                "ok",
                title,
                f"Multicurrency is {state}; the CRM's "
                "recent documents are all in the home currency.",
            )
        )
    elif multi:
        checks.append(
            Check(
                "multicurrency",
                "ok",
                title,
                "Multicurrency is on, so documents in "
                f"{', '.join(foreign)} are recorded in their currency.",
            )
        )
    else:
        checks.append(
            Check(
                "multicurrency",
                "fail",
                title,
                f"The CRM sends documents in {', '.join(foreign)} but multicurrency is off in "
                f"QuickBooks, which then takes {home or 'its home currency'} only: they fail.",
                f"Turn multicurrency on in QuickBooks ({ADVANCED} → Currency; it cannot be "
                "turned off again), then retry the failed records.",
            )
        )
    return checks


def _home_currency(home: str | None, local: LocalFacts) -> Check:
    title = "Home currency"
    if home is None:
        return Check(
            "home_currency",
            "warn",
            title,
            "QuickBooks did not say which currency the company keeps its books in.",
            "Reconnect to read it again.",
        )
    main = max(local.crm_currencies, key=local.crm_currencies.__getitem__, default=None)
    if main is not None and main.upper() != home.upper():
        return Check(
            "home_currency",
            "warn",
            title,
            f"The books are kept in {home}, while most CRM documents are in {main}: each is "
            f"converted at QuickBooks' exchange rate, so {home} amounts differ from the CRM's.",
            "Check that this is the right QuickBooks company for this CRM account.",
        )
    return Check("home_currency", "ok", title, f"The books are kept in {home}.")


def custom_numbers(company: CompanyRead) -> Check:
    prefs = company.preferences.SalesFormsPrefs
    title = "Custom transaction numbers"
    if prefs is not None and prefs.CustomTxnNumbers is True:
        return Check(
            "custom_txn_numbers", "ok", title, "On: QuickBooks keeps the CRM's invoice numbers."
        )
    return Check(
        "custom_txn_numbers",
        "warn",
        title,
        "Off: QuickBooks numbers sales forms itself, so its own next numbers can collide with "
        "the invoice numbers the CRM sends, and the two sides' numbers are harder to match.",
        "Turn on Custom transaction numbers in QuickBooks (Settings → Account and settings → "
        "Sales → Sales form content).",
    )


def duplicate_numbers() -> Check:
    # QBO's Preferences has no field for "Warn if duplicate invoice number is used": the real
    # Preferences response (tests/sync/doctor/fixtures/preferences-sample.json) lists only
    # WarnDuplicateCheckNumber and WarnDuplicateBillNumber in OtherPrefs. Said as it is.
    return Check(
        "duplicate_numbers",
        "warn",
        "Duplicate invoice number warning",
        "QuickBooks does not tell apps whether it warns about duplicate invoice numbers. With "
        "the warning on, a CRM invoice whose number is already used in QuickBooks is refused "
        "(error 6140); with it off, QuickBooks accepts two invoices with one number.",
        f"Decide which you want in QuickBooks ({ADVANCED} → Other preferences → Warn if "
        "duplicate … number is used). This check cannot confirm it.",
    )


def closing_date(company: CompanyRead, local: LocalFacts) -> Check:
    prefs = company.preferences.AccountingInfoPrefs
    closed = prefs.BookCloseDate if prefs is not None else None
    title = "Closing date"
    if closed is None:
        return Check("closing_date", "ok", title, "The books have no closing date.")
    before = [day for day in local.crm_dates if day <= closed]
    if before:
        return Check(
            "closing_date",
            "fail",
            title,
            f"The books are closed through {closed.isoformat()}, and {len(before)} recent CRM "
            "document(s) are dated on or before it: QuickBooks refuses them.",
            "Change the closing date in QuickBooks (Settings → Account and settings → Advanced "
            "→ Accounting), or date the documents after it in the CRM, then retry.",
        )
    return Check(
        "closing_date",
        "warn",
        title,
        f"The books are closed through {closed.isoformat()}: a CRM document dated on or before "
        "it will fail.",
        "Nothing to do unless the CRM back-dates documents into the closed period.",
    )


def _find(accounts: list[Account], account_id: str | None) -> Account | None:
    return next((a for a in accounts if account_id is not None and a.Id == account_id), None)


def income_account(company: CompanyRead, local: LocalFacts) -> Check:
    title = "Income account for new items"
    chosen = _find(company.accounts, local.income_account_id)
    if chosen is not None and chosen.Active is not False:
        return Check("income_account", "ok", title, f"New items post to {chosen.Name}.")
    active = [a for a in company.accounts if a.AccountType == "Income" and a.Active is not False]
    if active and local.income_account_id is None:
        return Check(
            "income_account",
            "ok",
            title,
            f"New items will post to an Income account (one of {len(active)}).",
        )
    what = "the Income account chosen for new items is gone or inactive"
    if local.income_account_id is None:
        what = "QuickBooks has no active Income account"
    return Check(
        "income_account",
        "fail",
        title,
        f"{what[0].upper()}{what[1:]}: a CRM line naming a new product cannot be recorded.",
        "Create or reactivate an Income account in QuickBooks (Chart of accounts).",
    )


def deposit_choices(accounts: list[Account]) -> list[dict[str, str]]:
    return [
        {"id": a.Id or "", "name": a.Name or "", "type": a.AccountType or ""}
        for a in accounts
        if a.AccountType in DEPOSIT_TYPES and a.Active is not False and a.Id
    ]


def deposit_account(company: CompanyRead, local: LocalFacts) -> list[Check]:
    title = "Deposit account"
    if local.deposit_account_id is None:
        funds = next((a for a in company.accounts if a.AccountSubType == UNDEPOSITED_SUBTYPE), None)
        if funds is None or funds.Active is False:
            check = Check(
                "deposit_account",
                "fail",
                title,
                "Payments go to Undeposited Funds "
                "(QuickBooks' default), which this company lacks or has made inactive.",
                "Choose a deposit account under Settings on this card.",
            )
        else:
            check = Check(
                "deposit_account",
                "ok",
                title,
                "Payments go to Undeposited Funds "
                "(QuickBooks' default); group them into bank deposits in QuickBooks.",
            )
    else:
        check = _chosen(company.accounts, local.deposit_account_id, title, DEPOSIT_TYPES)
    checks = [check]
    if local.fee_expense_account_id is not None:
        checks.append(_fee_check(company, local))
    return checks


def _chosen(accounts: list[Account], account_id: str, title: str, types: frozenset[str]) -> Check:
    found = _find(accounts, account_id)
    key = "deposit_account" if "Bank" in types else "fee_account"
    if found is None or found.Active is False:
        state = "no longer exists" if found is None else "is inactive"
        return Check(
            key,
            "fail",
            title,
            f"The chosen account (id {account_id}) {state} in QuickBooks: payments will fail.",
            "Choose another account on this card.",
        )
    if found.AccountType not in types:
        return Check(
            key,
            "fail",
            title,
            f"{found.Name} is a {found.AccountType} account, which cannot take this.",
            "Choose another account on this card.",
        )
    return Check(key, "ok", title, f"{found.Name} ({found.AccountType}).")


def _fee_check(company: CompanyRead, local: LocalFacts) -> Check:
    assert local.fee_expense_account_id is not None
    check = _chosen(company.accounts, local.fee_expense_account_id, "Processor fees", FEE_TYPES)
    deposit = _find(company.accounts, local.deposit_account_id)
    if check.status == "ok" and (deposit is None or deposit.AccountType != "Bank"):
        return Check(
            "fee_account",
            "warn",
            "Processor fees",
            "Fees are recorded as an expense paid from the deposit account, which must be a Bank "
            "account; with this deposit account they are not recorded.",
            "Choose a Bank account as the deposit account.",
        )
    return check
