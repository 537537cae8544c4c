"""Name-list entities: Customer, Vendor, Employee, Item, Account, PaymentMethod, settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbo_emulator import faults
from qbo_emulator.companies import currency_ref
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.service import Handler, register
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, Record, normalise_name

NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
FORBIDDEN_NAME_CHARS = (":", "\t", "\n")
ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Category", "Group")
NEEDS_INCOME_ACCOUNT = ("Service", "Inventory")
# An inactive name-list object reads back with this appended to its names (Intuit community
# article 1773334; qbo-api.md correction 5; public test data modelled on QBO responses shows
# "Name": "Mortgage interest (deleted)" with "Active": false). Reactivating restores the name:
# UNKNOWN (verify-qbo "inactive names").
DELETED_SUFFIX = " (deleted)"


def base_name(value: str) -> str:
    """A name without the " (deleted)" QBO shows on an inactive object."""
    return value[: -len(DELETED_SUFFIX)] if value.endswith(DELETED_SUFFIX) else value


def mark_inactive(data: JSON, *keys: str) -> None:
    """Append " (deleted)" to the names of an inactive object, as QBO shows them."""
    if data.get("Active") is not False:
        return
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and not value.endswith(DELETED_SUFFIX):
            data[key] = value + DELETED_SUFFIX


def _check_name_chars(value: str, element: str) -> None:
    if any(ch in value for ch in FORBIDDEN_NAME_CHARS):
        raise faults.invalid_field(element, f"{element} can not contain a colon, tab or newline.")


def _display_name(data: JSON, existing: Record | None) -> str:
    name = data.get("DisplayName")
    if isinstance(name, str) and name.strip():
        return base_name(name.strip())
    if existing is not None:
        # A DisplayName cannot be removed by an update; QBO keeps the current one.
        return base_name(str(existing.data["DisplayName"]))
    parts = [str(data[p]).strip() for p in NAME_PARTS if data.get(p)]
    if not parts:
        raise faults.required("DisplayName")
    return " ".join(parts)


def _check_email(data: JSON) -> None:
    email = data.get("PrimaryEmailAddr")
    address = email.get("Address") if isinstance(email, dict) else None
    if address is not None and ("@" not in str(address) or "." not in str(address)):
        raise faults.invalid_field(
            "PrimaryEmailAddr", "Email Address does not conform to the syntax rules of RFC 822."
        )


def prepare_person(entity: str, company: Company, data: JSON, existing: Record | None) -> None:
    name = _display_name(data, existing)
    _check_name_chars(name, "DisplayName")
    owner = company.name_owner(name)
    if owner is not None and (existing is None or owner != (entity, existing.data["Id"])):
        # An inactive holder still holds its name (its index entry is its original name).
        raise faults.duplicate_name(owner[1])
    _check_email(data)
    data["DisplayName"] = name
    data.setdefault("PrintOnCheckName", name)
    data["Active"] = data.get("Active", True) is not False
    old_currency = (existing.data.get("CurrencyRef") if existing else None) or {}
    new_currency = data.get("CurrencyRef") or {}
    if old_currency and new_currency and old_currency.get("value") != new_currency.get("value"):
        raise faults.business("You can't change the currency of a customer.")


def _customer_fields(company: Company, data: JSON, existing: Record | None) -> None:
    if existing is None:
        balance = to_decimal(data.get("Balance")) or Decimal(0)
    else:
        balance = to_decimal(existing.data.get("Balance")) or Decimal(0)
    if data["Active"] is False and balance != 0:
        raise faults.business("Delete List Has Balance Error: this customer has an open balance.")
    data["Balance"] = balance
    data["BalanceWithJobs"] = balance
    data.setdefault("Taxable", True)
    data.setdefault("BillWithParent", False)
    data.setdefault("PreferredDeliveryMethod", "Print")
    data["Job"] = False
    data["FullyQualifiedName"] = data["DisplayName"]
    parent = data.get("ParentRef")
    if isinstance(parent, dict) and parent.get("value"):
        parent_record = company.get("Customer", str(parent["value"]))
        if parent_record is None:
            raise faults.not_found()
        data["Job"] = True
        data["Level"] = int(parent_record.data.get("Level", 0)) + 1
        data["FullyQualifiedName"] = (
            f"{parent_record.data['FullyQualifiedName']}:{data['DisplayName']}"
        )
    mark_inactive(data, "DisplayName", "FullyQualifiedName")
    if company.multicurrency:
        data.setdefault("CurrencyRef", currency_ref(company.currency))
    if company.is_us and data["Taxable"] is True:
        # Under automated sales tax QBO sets this itself; clients cannot choose it.
        data["DefaultTaxCodeRef"] = {"value": company.ast_tax_code_id}
    else:
        data.pop("DefaultTaxCodeRef", None)


def _person_handler(entity: str) -> Handler:
    def prepare(
        emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
    ) -> None:
        prepare_person(entity, company, data, existing)
        if entity == "Customer":
            _customer_fields(company, data, existing)
        else:
            data.setdefault("Balance", Decimal(0))
            mark_inactive(data, "DisplayName")

    def after(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
        if old is not None:
            company.display_names.pop(normalise_name(base_name(old["DisplayName"])), None)
        key = normalise_name(base_name(data["DisplayName"]))
        company.display_names[key] = (entity, data["Id"])

    return Handler(prepare=prepare, after=after)


def _prepare_item(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    name = base_name(str(data.get("Name") or "").strip())
    if not name:
        raise faults.required("Name")
    _check_name_chars(name, "Name")
    owner = company.item_names.get(normalise_name(name))
    if owner is not None and (existing is None or owner != existing.data["Id"]):
        # Public clients parse the holder from item 6240s too ("The name supplied already
        # exists. : Id=1507"); element "Name" for items is UNKNOWN (verify-qbo "inactive names").
        raise faults.duplicate_name(owner, element="Name")
    kind = data.setdefault("Type", "Service")
    if kind not in ITEM_TYPES:
        raise faults.invalid_field("Type", f"Invalid Enumeration : {kind}")
    if kind in NEEDS_INCOME_ACCOUNT:
        _require_ref(company, data, "IncomeAccountRef", "Account")
    data["Name"] = name
    data["FullyQualifiedName"] = name
    data["Active"] = data.get("Active", True) is not False
    mark_inactive(data, "Name", "FullyQualifiedName")
    data.setdefault("Taxable", False)
    data.setdefault("UnitPrice", Decimal(0))


def _require_ref(company: Company, data: JSON, field: str, entity: str) -> None:
    ref = data.get(field)
    if not isinstance(ref, dict) or not ref.get("value"):
        raise faults.required(field)
    record = company.get(entity, str(ref["value"]))
    if record is None:
        raise faults.invalid_reference(field, str(ref["value"]))
    ref["name"] = record.data.get("Name", "")


def _after_item(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
    if old is not None:
        company.item_names.pop(normalise_name(base_name(old["Name"])), None)
    company.item_names[normalise_name(base_name(data["Name"]))] = data["Id"]


def _prepare_simple(required: str) -> Any:
    def prepare(
        emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
    ) -> None:
        if not data.get(required):
            raise faults.required(required)
        data["Active"] = data.get("Active", True) is not False
        if isinstance(data.get("Name"), str):
            data["Name"] = base_name(data["Name"])
            data["FullyQualifiedName"] = data["Name"]
        mark_inactive(data, "Name", "FullyQualifiedName")

    return prepare


def _read_only(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    raise faults.unsupported("Create" if existing is None else "Update")


def _prepare_settings(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    if existing is None:
        raise faults.unsupported("Create")
    sales = data.get("SalesFormsPrefs")
    if isinstance(sales, dict) and "CustomTxnNumbers" in sales:
        company.custom_txn_numbers = sales["CustomTxnNumbers"] is True
    currency = data.get("CurrencyPrefs")
    if isinstance(currency, dict) and "MultiCurrencyEnabled" in currency:
        # QBO never lets multicurrency be switched off once on.
        company.multicurrency = company.multicurrency or currency["MultiCurrencyEnabled"] is True
        currency["MultiCurrencyEnabled"] = company.multicurrency


for _entity in ("Customer", "Vendor", "Employee"):
    register(_entity, _person_handler(_entity))
register("Item", Handler(prepare=_prepare_item, after=_after_item))
register("Account", Handler(prepare=_prepare_simple("Name")))
register("PaymentMethod", Handler(prepare=_prepare_simple("Name")))
register("TaxCode", Handler(prepare=_read_only))
register("TaxRate", Handler(prepare=_read_only))
register("CompanyInfo", Handler(prepare=_prepare_settings))
register("Preferences", Handler(prepare=_prepare_settings))


def merge_customers(emu: Emulator, company: Company, from_id: str, into_id: str) -> JSON:
    """What a user's merge in QBO does: the first customer's transactions move to the second,
    the first is deleted, and a Merge event names the deleted id."""
    source, target = company.get("Customer", from_id), company.get("Customer", into_id)
    if source is None or target is None or from_id == into_id:
        raise faults.not_found()
    moved = Decimal(0)
    for entity in ("Invoice", "SalesReceipt", "Payment"):
        for record in company.live(entity):
            ref = record.data.get("CustomerRef") or {}
            if ref.get("value") == from_id:
                record.data["CustomerRef"] = {"value": into_id, "name": target.data["DisplayName"]}
                if entity == "Invoice":
                    moved += record.data.get("Balance", Decimal(0))
    balance = (to_decimal(target.data.get("Balance")) or Decimal(0)) + moved
    target.data["Balance"] = target.data["BalanceWithJobs"] = balance
    company.display_names.pop(normalise_name(base_name(source.data["DisplayName"])), None)
    now = emu.clock.now()
    source.deleted = True
    source.updated = now
    source.data = {
        "status": "Deleted",
        "domain": "QBO",
        "Id": from_id,
        "MetaData": {"LastUpdatedTime": emu.clock.meta_time(now)},
    }
    bump_quietly(emu, target)
    if emu.tokens.connected(company.realm_id):
        data = {"deletedid": from_id}
        emu.webhooks.notify(
            emu.webhooks.new_event(company.realm_id, "Customer", into_id, "Merge", data)
        )
    return target.data


def bump_quietly(emu: Emulator, record: Record) -> None:
    now = emu.clock.now()
    record.data["SyncToken"] = str(int(record.data["SyncToken"]) + 1)
    record.data["MetaData"] = {
        **record.data["MetaData"],
        "LastUpdatedTime": emu.clock.meta_time(now),
    }
    record.updated = now
