"""Payments: applying amounts to invoices through LinkedTxn, and undoing that on void/delete."""

from __future__ import annotations

from decimal import Decimal

from qbo_emulator import faults, money, refunds
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.sales import (
    apply_currency,
    refresh_invoice,
    resolve_ref,
    undeposited_funds,
)
from qbo_emulator.service import Handler, register
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, Record

ZERO = Decimal(0)


def _applications(company: Company, data: JSON) -> dict[str, Decimal]:
    """Invoice id -> amount for every line linked to an invoice; rounds line amounts."""
    out: dict[str, Decimal] = {}
    for line in data.get("Line", []):
        amount = money.round_money(to_decimal(line.get("Amount")) or ZERO, company.currency)
        line["Amount"] = amount
        for link in line.get("LinkedTxn", []):
            if link.get("TxnType") in refunds.LINKABLE:
                break  # a credit memo used or an expense paid (qbo_emulator/refunds.py)
            if link.get("TxnType") != "Invoice":
                raise faults.business(
                    f"Linking a payment to a {link.get('TxnType')} is not supported."
                )
            invoice_id = str(link.get("TxnId"))
            out[invoice_id] = out.get(invoice_id, ZERO) + amount
            break  # QBO applies each line to one transaction
    return out


def _check_application(
    company: Company, data: JSON, payment_id: str | None, invoice_id: str, amount: Decimal
) -> None:
    invoice = company.get("Invoice", invoice_id)
    if invoice is None:
        raise faults.QBOFault(
            "610", "Object Not Found", faults.NOT_FOUND_DETAIL, element="LinkedTxn"
        )
    customer = (invoice.data.get("CustomerRef") or {}).get("value")
    if customer != data["CustomerRef"]["value"]:
        raise faults.business("The invoice belongs to a different customer than the payment.")
    already = company.applied.get(invoice_id, {}).get(payment_id or "", ZERO)
    if amount < 0 or amount > invoice.data["Balance"] + already:
        raise faults.business("The amount applied is more than the open balance of the invoice.")


def _prepare(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    resolve_ref(company, data, "CustomerRef", "Customer", required=True)
    total = to_decimal(data.get("TotalAmt"))
    if total is None:
        raise faults.required("TotalAmt")
    total = money.round_money(total, company.currency)
    apply_currency(company, data, company.get("Customer", data["CustomerRef"]["value"]))
    payment_id = existing.data["Id"] if existing else None
    applications = _applications(company, data)
    for invoice_id, amount in applications.items():
        _check_application(company, data, payment_id, invoice_id, amount)
    applied = sum(applications.values(), ZERO)
    applied += sum(refunds.links_of(company, data, payment_id).values(), ZERO)
    if applied > total:
        raise faults.business("The amounts applied are more than the payment total.")
    data["TotalAmt"] = total
    data["UnappliedAmt"] = total - applied
    data.setdefault("TxnDate", emu.clock.today())
    data.setdefault("ProcessPayment", False)
    if not data.get("DepositToAccountRef"):
        data["DepositToAccountRef"] = undeposited_funds(company)
    resolve_ref(company, data, "DepositToAccountRef", "Account", required=True)
    resolve_ref(company, data, "PaymentMethodRef", "PaymentMethod", required=False)


def _unapply(emu: Emulator, company: Company, payment_id: str) -> list[str]:
    touched = [inv for inv, by in company.applied.items() if payment_id in by]
    for invoice_id in touched:
        company.applied[invoice_id].pop(payment_id, None)
    return touched


def _after(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
    payment_id = data["Id"]
    touched = set(_unapply(emu, company, payment_id))
    for invoice_id, amount in _applications(company, data).items():
        company.applied.setdefault(invoice_id, {})[payment_id] = amount
        touched.add(invoice_id)
    for invoice_id in sorted(touched, key=int):
        refresh_invoice(emu, company, invoice_id)
    refunds.relink(emu, company, payment_id, data)


def _release(emu: Emulator, company: Company, record: Record) -> None:
    for invoice_id in _unapply(emu, company, record.data["Id"]):
        refresh_invoice(emu, company, invoice_id)
    refunds.relink(emu, company, record.data["Id"], None)


def _void(emu: Emulator, company: Company, record: Record) -> None:
    _release(emu, company, record)
    record.data["TotalAmt"] = ZERO
    record.data["UnappliedAmt"] = ZERO
    for line in record.data.get("Line", []):
        line["Amount"] = ZERO


register("Payment", Handler(prepare=_prepare, after=_after, on_delete=_release, on_void=_void))
