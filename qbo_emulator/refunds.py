"""RefundReceipt: money paid back to a customer for a sale.

Sources:
- Intuit's API reference, RefundReceipt
  (developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/refundreceipt):
  `Line` and `DepositToAccountRef` are required; DepositToAccountRef is "Account from which
  payment money is refunded ... where Account.AccountType is Other Current Asset or Bank";
  the read sample (copied to tests/emulator/samples/refundreceipt-read-intuit-doc.json) has
  `Balance` 0, `PrintStatus` NotSet, `PaymentRefNum` absent, the lines and subtotal line of a
  sales form, `TxnTaxDetail.TotalTax`, `ApplyTaxAfterDiscount` (US company) and a DocNumber.
- Lines, tax, currency and numbering follow the sales forms' rules (qbo_emulator/sales.py):
  the reference lists the same line types (SalesItemLine, GroupLine, DescriptionOnlyLine,
  DiscountLine, SubTotalLine) and the same tax fields as SalesReceipt.
- Void: qbo-api.md §12 (webhook operations: `Void` exists for RefundReceipt) with the sales
  forms' void (amounts zeroed, "Voided" memo).

UNKNOWN (verify-qbo "refund receipt from Undeposited Funds"): whether a real company refuses
Undeposited Funds (an Other Current Asset) as the refund account; the reference allows it, so
the emulator does. The code and text of the refusal of another account type are UNKNOWN too
(here 6000, the business-validation code, naming the account).
"""

from __future__ import annotations

from decimal import Decimal

from qbo_emulator import faults, money, sales, service
from qbo_emulator.jsonutil import JSON, to_decimal
from qbo_emulator.service import Handler, register
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, Record

ZERO = Decimal(0)
REFUND_ACCOUNT_TYPES = frozenset({"Bank", "Other Current Asset"})


def _prepare_refund(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    if not data.get("DepositToAccountRef"):
        raise faults.required("DepositToAccountRef")
    # The sales forms' own rules (sales.py is another module's: its helpers are used as-is).
    sales._common(emu, company, "RefundReceipt", data, request, existing)
    sales.resolve_ref(company, data, "PaymentMethodRef", "PaymentMethod", required=False)
    account = sales.resolve_ref(company, data, "DepositToAccountRef", "Account", required=True)
    kind = account.data.get("AccountType") if account is not None else None
    if kind not in REFUND_ACCOUNT_TYPES:
        raise faults.business(
            f"A refund must be paid from a Bank or Other Current Asset account, not {kind}."
        )
    data["Balance"] = ZERO


register("RefundReceipt", sales._sales_handler("RefundReceipt", _prepare_refund))


# --- CreditMemo ------------------------------------------------------------------------------
# Intuit's API reference, CreditMemo
# (developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/creditmemo): a sales
# form (same line types as an invoice), CustomerRef required; the create response sample
# (tests/emulator/samples/creditmemo-create-intuit-doc.json) carries `Balance` and
# `RemainingCredit` equal to TotalAmt. A Payment line linking it uses its credit (Payment
# reference: "CreditMemo -- Payment is linked to the credit memo the customer has"); what no
# payment used is RemainingCredit, and it lowers the customer's balance.


def _credit_used(company: Company, entity: str, txn_id: str) -> Decimal:
    return sum(company.linked.get(key(entity, txn_id), {}).values(), ZERO)


def _prepare_credit_memo(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    if not data.get("CustomerRef"):
        raise faults.required("CustomerRef")
    sales._common(emu, company, "CreditMemo", data, request, existing)
    used = _credit_used(company, "CreditMemo", existing.data["Id"]) if existing else ZERO
    remaining = data["TotalAmt"] - used
    if remaining < 0:
        raise faults.business("The credit memo total can't be less than the credit already used.")
    data["RemainingCredit"] = remaining
    data["Balance"] = remaining


def _after_credit_memo(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
    sales._after_sales("CreditMemo")(emu, company, data, old)
    before = (old or {}).get("RemainingCredit", ZERO)
    sales.adjust_customer(company, _customer(old), before)
    sales.adjust_customer(company, _customer(data), -data["RemainingCredit"])


def _void_credit_memo(emu: Emulator, company: Company, record: Record) -> None:
    if company.linked.get(key("CreditMemo", record.data["Id"])):
        raise faults.business("This transaction is linked to a payment. Unlink the payment first.")
    sales.adjust_customer(company, _customer(record.data), record.data["RemainingCredit"])
    sales._zero(company, "CreditMemo", record)
    record.data["RemainingCredit"] = ZERO


def _customer(data: JSON | None) -> str | None:
    ref = (data or {}).get("CustomerRef") or {}
    return str(ref["value"]) if isinstance(ref, dict) and ref.get("value") else None


register(
    "CreditMemo",
    Handler(
        prepare=_prepare_credit_memo,
        after=_after_credit_memo,
        on_void=_void_credit_memo,
        on_delete=_void_credit_memo,
    ),
)


# --- Purchase (an expense) -------------------------------------------------------------------
# Intuit's API reference, Purchase
# (developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchase): "You must
# specify an AccountRef for all purchases", "The TotalAmt attribute must add up to sum of
# Line.Amount", PaymentType Cash, Check or CreditCard, lines AccountBasedExpenseLineDetail with
# a required AccountRef. An expense paid to a customer on the Accounts Receivable account is
# how Intuit's help page "Refund your customer for a paid invoice in QuickBooks Online" pays a
# refund out; the Payment reference lists "Expense -- Payment is reimbursement for expense paid
# by cash made on behalf of the customer" as a line a Payment can link. Such a line raises the
# customer's balance until a Payment links it. UNKNOWN (verify-qbo "expense line on Accounts
# Receivable"): the fault a real company gives for an A/R line without a customer payee (here
# 6000). The zero Payment linking such an expense and a credit memo: verify-qbo "zero payment
# linking a credit memo and an expense".
PAYMENT_TYPES = {"Cash": "Bank", "Check": "Bank", "CreditCard": "Credit Card"}
RECEIVABLE = "Accounts Receivable"


def _receivable_total(company: Company, data: JSON) -> Decimal:
    total = ZERO
    for line in data.get("Line", []):
        detail = line.get("AccountBasedExpenseLineDetail") or {}
        account = company.get("Account", str((detail.get("AccountRef") or {}).get("value")))
        if account is not None and account.data.get("AccountType") == RECEIVABLE:
            total += line["Amount"]
    return total


def _prepare_purchase(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    kind = data.get("PaymentType")
    if kind not in PAYMENT_TYPES:
        raise faults.required("PaymentType")
    account = sales.resolve_ref(company, data, "AccountRef", "Account", required=True)
    if account is None or account.data.get("AccountType") != PAYMENT_TYPES[kind]:
        raise faults.business(
            f"A {kind} purchase must be paid from a {PAYMENT_TYPES[kind]} account."
        )
    lines = data.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required("Line")
    total = ZERO
    for line in lines:
        detail = line.get("AccountBasedExpenseLineDetail")
        if line.get("DetailType") != "AccountBasedExpenseLineDetail" or not isinstance(
            detail, dict
        ):
            raise faults.business("Only account-based expense lines are supported here.")
        sales.resolve_ref(company, detail, "AccountRef", "Account", required=True)
        line["Amount"] = money.round_money(to_decimal(line.get("Amount")) or ZERO, company.currency)
        total += line["Amount"]
    entity = data.get("EntityRef") or {}
    if _receivable_total(company, data) and (
        entity.get("type") != "Customer"
        or company.get("Customer", str(entity.get("value"))) is None
    ):
        raise faults.business("An expense on Accounts Receivable needs a customer as payee.")
    sales.apply_currency(company, data, None)
    data["TotalAmt"] = total
    data.setdefault("TxnDate", emu.clock.today())


def _open_receivable(company: Company, data: JSON) -> Decimal:
    return _receivable_total(company, data) - _credit_used(company, "Purchase", data["Id"])


def _payee(data: JSON | None) -> str | None:
    entity = (data or {}).get("EntityRef") or {}
    return str(entity["value"]) if entity.get("type") == "Customer" else None


def _after_purchase(emu: Emulator, company: Company, data: JSON, old: JSON | None) -> None:
    if old is not None:
        sales.adjust_customer(company, _payee(old), -_open_receivable(company, old))
    sales.adjust_customer(company, _payee(data), _open_receivable(company, data))


def _void_purchase(emu: Emulator, company: Company, record: Record) -> None:
    if company.linked.get(key("Purchase", record.data["Id"])):
        raise faults.business("This transaction is linked to a payment. Unlink the payment first.")
    sales.adjust_customer(company, _payee(record.data), -_open_receivable(company, record.data))
    record.data["TotalAmt"] = ZERO
    for line in record.data.get("Line", []):
        line["Amount"] = ZERO


register(
    "Purchase",
    Handler(
        prepare=_prepare_purchase,
        after=_after_purchase,
        on_void=_void_purchase,
        on_delete=_void_purchase,
    ),
)


# --- Payment lines linking a credit memo or an expense ----------------------------------------
LINKABLE = {"CreditMemo": "CreditMemo", "Expense": "Purchase"}


def key(entity: str, txn_id: str) -> str:
    """`Company.linked` key: ids are per entity here, so the entity is part of it."""
    return f"{entity}/{txn_id}"


def links_of(company: Company, data: JSON, payment_id: str | None) -> dict[str, Decimal]:
    """Signed amounts of a Payment's CreditMemo (credit used, negative) and Expense (charge
    paid, positive) lines by `key`, checked against what is left of each."""
    out: dict[str, Decimal] = {}
    customer = _customer(data)
    for line in data.get("Line", []):
        for link in line.get("LinkedTxn", []):
            entity = LINKABLE.get(str(link.get("TxnType")))
            if entity is None:
                continue
            txn_id = str(link.get("TxnId"))
            record = company.get(entity, txn_id)
            if record is None:
                raise faults.QBOFault(
                    "610", "Object Not Found", faults.NOT_FOUND_DETAIL, element="LinkedTxn"
                )
            owner = _customer(record.data) if entity == "CreditMemo" else _payee(record.data)
            if owner != customer:
                raise faults.business("The transaction belongs to a different customer.")
            amount = money.round_money(to_decimal(line.get("Amount")) or ZERO, company.currency)
            mine = company.linked.get(key(entity, txn_id), {}).get(payment_id or "", ZERO)
            left = (
                record.data["RemainingCredit"]
                if entity == "CreditMemo"
                else _open_receivable(company, record.data)
            ) + mine
            if amount < 0 or amount > left:
                raise faults.business("The amount applied is more than the open balance.")
            signed = -amount if entity == "CreditMemo" else amount
            out[key(entity, txn_id)] = out.get(key(entity, txn_id), ZERO) + signed
    return out


def relink(emu: Emulator, company: Company, payment_id: str, data: JSON | None) -> None:
    """Record a Payment's credit memo and expense links (None: drop them). Each link moves the
    customer's balance back: credit used raises it, an expense paid lowers it."""
    for txn_key, by in list(company.linked.items()):
        amount = by.pop(payment_id, None)
        if amount is not None:
            _moved(emu, company, txn_key, -amount)
    for txn_key, signed in (links_of(company, data, payment_id) if data else {}).items():
        company.linked.setdefault(txn_key, {})[payment_id] = abs(signed)
        _moved(emu, company, txn_key, abs(signed))


def _moved(emu: Emulator, company: Company, txn_key: str, used: Decimal) -> None:
    """`used` more (or, negative, less) of a credit memo or an expense is now linked."""
    entity, txn_id = txn_key.split("/", 1)
    record = company.get(entity, txn_id)
    if record is None:
        return
    if entity == "CreditMemo":
        record.data["RemainingCredit"] -= used
        record.data["Balance"] = record.data["RemainingCredit"]
        sales.adjust_customer(company, _customer(record.data), used)
        service.bump(emu, company, entity, record, "Update")
    else:
        sales.adjust_customer(company, _payee(record.data), -used)
