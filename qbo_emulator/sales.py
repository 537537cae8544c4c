"""Sales forms (Invoice, SalesReceipt): references, numbering, totals, balances, void/delete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from qbo_emulator import faults, money
from qbo_emulator.companies import account_ref, currency_ref
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.service import Handler, bump, register
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, Record

ZERO = Decimal(0)
UNDEPOSITED_FUNDS = "Undeposited Funds"
US_LINE_CODES = ("TAX", "NON")
# The request's ?include= values (batch: optionsData), set by the route around one write.
_INCLUDES: ContextVar[frozenset[str]] = ContextVar("qbo_includes", default=frozenset())


@contextmanager
def request_includes(include: str | None) -> Iterator[None]:
    """Make a write's `include` values visible to the sales rules while it runs."""
    values = frozenset(v.strip().lower() for v in (include or "").split(",") if v.strip())
    token = _INCLUDES.set(values)
    try:
        yield
    finally:
        _INCLUDES.reset(token)


def tax_context(company: Company) -> money.TaxContext:
    ctx = money.TaxContext(currency=company.currency, us=company.is_us)
    if company.is_us:
        ctx.us_rate = company.sales_tax_rate
        ctx.us_code_id = company.ast_tax_code_id
        ctx.us_rate_id = company.ast_tax_rate_id
        return ctx
    rates = {
        r.data["Id"]: to_decimal(r.data.get("RateValue")) or ZERO for r in company.live("TaxRate")
    }
    for code in company.live("TaxCode"):
        details = code.data.get("SalesTaxRateList", {}).get("TaxRateDetail", [])
        ids = [str(d["TaxRateRef"]["value"]) for d in details]
        ctx.codes[code.data["Id"]] = money.TaxCodeInfo(
            code.data["Id"], tuple((rid, rates.get(rid, ZERO)) for rid in ids)
        )
    return ctx


def resolve_ref(
    company: Company, data: JSON, field: str, entity: str, *, required: bool
) -> Record | None:
    """Check a reference points at an active object and fill its name, as QBO echoes it."""
    ref = data.get(field)
    if not isinstance(ref, dict) or not ref.get("value"):
        if required:
            raise faults.required(field)
        data.pop(field, None)
        return None
    record = company.get(entity, str(ref["value"]))
    if record is None or record.data.get("Active") is False:
        raise faults.QBOFault("610", "Object Not Found", faults.NOT_FOUND_DETAIL, element=field)
    name = record.data.get("DisplayName") or record.data.get("Name") or ""
    data[field] = {"value": str(ref["value"]), "name": name}
    return record


def apply_currency(company: Company, data: JSON, customer: Record | None) -> None:
    code = str((data.get("CurrencyRef") or {}).get("value") or company.currency).upper()
    if code != company.currency and not company.multicurrency:
        raise faults.business("Multicurrency is not enabled for this company.")
    customer_currency = (customer.data.get("CurrencyRef") if customer else None) or {}
    if customer_currency and customer_currency.get("value") != code:
        raise faults.business("The transaction currency must match the customer's currency.")
    data["CurrencyRef"] = currency_ref(code)
    if company.multicurrency:
        rate = to_decimal(data.get("ExchangeRate")) or Decimal(1)
        data["ExchangeRate"] = rate


def _lines(company: Company, data: JSON) -> list[JSON]:
    lines = data.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required("Line")
    services = company.item_names.get("services", "1")
    for line in lines:
        if not isinstance(line, dict):
            raise faults.request_invalid("Line entries must be objects")
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.setdefault("SalesItemLineDetail", {})
        detail.setdefault("ItemRef", {"value": services})
        item = resolve_ref(company, detail, "ItemRef", "Item", required=True)
        if item is not None and "Description" not in line and item.data.get("Description"):
            line["Description"] = item.data["Description"]
        if company.is_us:
            detail["TaxCodeRef"] = {"value": _us_line_code(company, detail, item)}
    return lines


def _us_line_code(company: Company, detail: JSON, item: Record | None) -> str:
    """TAX or NON for a line of a US (automated sales tax) company.

    Without a TaxCodeRef the line follows the item's taxability (Intuit blog 2018-03-28 on
    TaxCodeRef under AST; qbo-api.md correction 8). A TaxCodeRef must be TAX, NON or an
    existing TaxCode's id; anything else is refused. QBO's code and text for that are UNKNOWN
    (verify-qbo "invalid line tax code in a US company"): 2500 Invalid Reference Id here.
    """
    ref = detail.get("TaxCodeRef")
    value = str(ref.get("value") or "") if isinstance(ref, dict) else ""
    if not value:
        return "TAX" if item is not None and item.data.get("Taxable") is True else "NON"
    if value.upper() in US_LINE_CODES:
        return value.upper()
    code = company.get("TaxCode", value)
    if code is None:
        raise faults.invalid_reference("TaxCodeRef", value)
    return "TAX" if code.data.get("Taxable") is True else "NON"


def _doc_number(company: Company, entity: str, data: JSON, existing: Record | None) -> None:
    numbers = company.doc_numbers.setdefault(entity, {})
    doc = data.get("DocNumber")
    if doc is None:
        if existing is not None and existing.data.get("DocNumber"):
            data["DocNumber"] = existing.data["DocNumber"]
        elif not company.custom_txn_numbers:
            while str(company.next_doc_number) in numbers:
                company.next_doc_number += 1
            data["DocNumber"] = str(company.next_doc_number)
        return
    doc = str(doc)
    if len(doc) > 21:
        raise faults.invalid_field("DocNumber", "String length exceeds the maximum of 21.")
    owner = numbers.get(doc)
    # 6140 only while the company warns on duplicate numbers (Intuit's Invoice reference,
    # DocNumber: "Throws an error when duplicate DocNumber is sent in the request ... check the
    # setting of Preferences:OtherPrefs ... If a duplicate DocNumber needs to be supplied, add
    # ... include=allowduplicatedocnum to the URI"; QuickBooks-V3-DotNET-SDK #175: the
    # preference can be turned off, batch items pass the include in optionsData).
    clash = owner is not None and (existing is None or owner != existing.data["Id"])
    allowed = "allowduplicatedocnum" in _INCLUDES.get()
    if clash and company.warn_duplicate_doc_number and not allowed:
        raise faults.duplicate_doc_number(doc, entity, str(owner))
    data["DocNumber"] = doc


def _totals(company: Company, data: JSON, request: JSON) -> None:
    override = None
    detail = request.get("TxnTaxDetail")
    if company.is_us and isinstance(detail, dict):
        override = to_decimal(detail.get("TotalTax"))
    opts: dict[str, Any] = {
        "tax_override": override,
        "global_calc": data.get("GlobalTaxCalculation"),
        "apply_tax_after_discount": data.get("ApplyTaxAfterDiscount") is True,
    }
    totals = money.compute(_lines(company, data), tax_context(company), opts)
    data["Line"] = totals.lines
    data["TxnTaxDetail"] = totals.tax_detail
    data["TotalAmt"] = totals.total
    if company.is_us:
        data.pop("GlobalTaxCalculation", None)
        data["ApplyTaxAfterDiscount"] = opts["apply_tax_after_discount"]
    else:
        data["GlobalTaxCalculation"] = opts["global_calc"] or "TaxExcluded"
    if company.multicurrency:
        data["HomeTotalAmt"] = money.round_money(
            totals.total * data["ExchangeRate"], company.currency
        )


def applied_total(company: Company, invoice_id: str) -> Decimal:
    return sum(company.applied.get(invoice_id, {}).values(), ZERO)


def _common(
    emu: Emulator, company: Company, entity: str, data: JSON, request: JSON, existing: Record | None
) -> None:
    customer = resolve_ref(company, data, "CustomerRef", "Customer", required=entity == "Invoice")
    apply_currency(company, data, customer)
    _totals(company, data, request)
    data.setdefault("TxnDate", emu.clock.today())
    _doc_number(company, entity, data, existing)
    data.setdefault("PrintStatus", "NotSet")
    data.setdefault("EmailStatus", "NotSet")


def _prepare_invoice(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    _common(emu, company, "Invoice", data, request, existing)
    data.setdefault("DueDate", data["TxnDate"])
    deposit = money.round_money(to_decimal(data.get("Deposit")) or ZERO, company.currency)
    data["Deposit"] = deposit
    paid = applied_total(company, existing.data["Id"]) if existing else ZERO
    balance = data["TotalAmt"] - deposit - paid
    if balance < 0:
        raise faults.business("The invoice total can't be less than the payments applied to it.")
    data["Balance"] = balance
    links = [x for x in data.get("LinkedTxn", []) if x.get("TxnType") != "Payment"]
    if existing is not None:
        links += [
            {"TxnId": pid, "TxnType": "Payment"}
            for pid in company.applied.get(existing.data["Id"], {})
        ]
    data["LinkedTxn"] = links
    if not links:
        data.pop("LinkedTxn")
    if company.multicurrency:
        data["HomeBalance"] = money.round_money(balance * data["ExchangeRate"], company.currency)


def _prepare_receipt(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    _common(emu, company, "SalesReceipt", data, request, existing)
    resolve_ref(company, data, "PaymentMethodRef", "PaymentMethod", required=False)
    if not data.get("DepositToAccountRef"):
        data["DepositToAccountRef"] = undeposited_funds(company)
    resolve_ref(company, data, "DepositToAccountRef", "Account", required=True)
    data["Balance"] = ZERO


def undeposited_funds(company: Company) -> JSON:
    for record in company.live("Account"):
        if record.data.get("Name") == UNDEPOSITED_FUNDS:
            return account_ref(company, record.data["Id"])
    return {"value": "3"}


def adjust_customer(company: Company, customer_id: str | None, delta: Decimal) -> None:
    """Customer.Balance follows its invoices; QBO does not bump the customer's SyncToken."""
    record = company.table("Customer").get(str(customer_id)) if customer_id else None
    if record is None or delta == 0:
        return
    balance = (to_decimal(record.data.get("Balance")) or ZERO) + delta
    record.data["Balance"] = balance
    record.data["BalanceWithJobs"] = balance


def _customer_id(data: JSON | None) -> str | None:
    ref = (data or {}).get("CustomerRef")
    return str(ref["value"]) if isinstance(ref, dict) and ref.get("value") else None


def _after_sales(entity: str) -> Any:
    def after(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
        numbers = company.doc_numbers.setdefault(entity, {})
        if old is not None and old.get("DocNumber") and numbers.get(old["DocNumber"]) == old["Id"]:
            numbers.pop(str(old["DocNumber"]), None)
        if data.get("DocNumber"):
            # With a duplicate allowed, the first holder stays the one a 6140 names.
            numbers.setdefault(str(data["DocNumber"]), data["Id"])
        if entity == "Invoice":
            adjust_customer(company, _customer_id(old), -(old or {}).get("Balance", ZERO))
            adjust_customer(company, _customer_id(data), data["Balance"])

    return after


def _forget(company: Company, entity: str, record: Record) -> None:
    if entity == "Invoice" and company.applied.get(record.data["Id"]):
        raise faults.business(
            "This transaction is linked to a payment. Unlink or delete the payment first."
        )
    doc = record.data.get("DocNumber")
    numbers = company.doc_numbers.setdefault(entity, {})
    if doc is not None and numbers.get(str(doc)) == record.data["Id"]:
        numbers.pop(str(doc), None)
    if entity == "Invoice":
        adjust_customer(company, _customer_id(record.data), -record.data.get("Balance", ZERO))


def _zero(company: Company, entity: str, record: Record) -> None:
    if entity == "Invoice" and company.applied.get(record.data["Id"]):
        raise faults.business("This transaction is linked to a payment. Unlink the payment first.")
    data = record.data
    if entity == "Invoice":
        adjust_customer(company, _customer_id(data), -data.get("Balance", ZERO))
    for line in data.get("Line", []):
        line["Amount"] = ZERO
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict):
            detail["Qty"] = ZERO
    tax = data.get("TxnTaxDetail", {})
    tax["TotalTax"] = ZERO
    for tax_line in tax.get("TaxLine", []):
        tax_line["Amount"] = ZERO
    for key in ("TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance"):
        if key in data or key in ("TotalAmt", "Balance"):
            data[key] = ZERO


def refresh_invoice(emu: Emulator, company: Company, invoice_id: str) -> None:
    """Re-derive Balance and Payment links after payments change, as QBO does, with an event."""
    record = company.get("Invoice", invoice_id)
    if record is None:
        return
    data = record.data
    balance = data["TotalAmt"] - data.get("Deposit", ZERO) - applied_total(company, invoice_id)
    links = [x for x in data.get("LinkedTxn", []) if x.get("TxnType") != "Payment"]
    links += [{"TxnId": pid, "TxnType": "Payment"} for pid in company.applied.get(invoice_id, {})]
    if balance == data["Balance"] and links == data.get("LinkedTxn", []):
        return
    adjust_customer(company, _customer_id(data), balance - data["Balance"])
    data["Balance"] = balance
    data["LinkedTxn"] = links
    if not links:
        data.pop("LinkedTxn")
    if "HomeBalance" in data:
        data["HomeBalance"] = money.round_money(balance * data["ExchangeRate"], company.currency)
    bump(emu, company, "Invoice", record, "Update")


def _sales_handler(entity: str, prepare: Any) -> Handler:
    return Handler(
        prepare=prepare,
        after=_after_sales(entity),
        on_delete=lambda emu, company, record: _forget(company, entity, record),
        on_void=lambda emu, company, record: _zero(company, entity, record),
    )


register("Invoice", _sales_handler("Invoice", _prepare_invoice))
register("SalesReceipt", _sales_handler("SalesReceipt", _prepare_receipt))
