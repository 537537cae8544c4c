"""Checks of the refund flows' QBO objects (app/sync/crm_to_qbo/refunds.py, invoice_refunds.py):
a refund receipt paid from Undeposited Funds, an expense on Accounts Receivable paid to a
customer, and a zero payment closing a credit memo against such an expense."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.integrations.quickbooks.contract.checks_money import cents
from app.integrations.quickbooks.contract.model import Check, Outcome
from app.integrations.quickbooks.contract.raw import Answer, ContractHttpError, entity_of
from app.integrations.quickbooks.contract.session import CheckSession

AMOUNT = Decimal("10.00")
RECEIVABLE = "Accounts Receivable"


def _status(answer: Answer) -> str:
    codes = ",".join(answer.codes())
    return f"{answer.status}{' ' + codes if codes else ''}"


def _note(session: CheckSession) -> str:
    return f"{session.prefix} {session.tag}"


async def _item_lines(session: CheckSession) -> list[dict[str, Any]]:
    return [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": AMOUNT,
            "SalesItemLineDetail": {"ItemRef": {"value": await session.item_id()}},
        }
    ]


async def _refund_receipt(session: CheckSession, account: str) -> Answer:
    body = {
        "PrivateNote": _note(session),
        "CustomerRef": {"value": await session.customer_id()},
        "DepositToAccountRef": {"value": account},
        "Line": await _item_lines(session),
    }
    return await session.create("RefundReceipt", body)


async def refund_from_undeposited(session: CheckSession) -> Outcome:
    undeposited = await session.account_id("AccountSubType", "UndepositedFunds")
    from_funds = await _refund_receipt(session, undeposited)
    from_income = await _refund_receipt(session, await session.income_account_id())
    stored = from_funds.entity("RefundReceipt")
    observed = f"from Undeposited Funds {_status(from_funds)}"
    if from_funds.ok:
        observed += f" (TotalAmt {cents(stored.get('TotalAmt'))})"
    observed += f"; from an Income account {_status(from_income)}"
    expected = "from Undeposited Funds 200 (TotalAmt 10.00); from an Income account 400 6000"
    details = {"undeposited": from_funds.summary(), "income": from_income.summary()}
    return Outcome(expected, observed, observed == expected, details)


async def _expense(session: CheckSession, customer: str | None) -> Answer:
    body: dict[str, Any] = {
        "PrivateNote": _note(session),
        "PaymentType": "Cash",
        "AccountRef": {"value": await session.account_id("AccountType", "Bank")},
        "Line": [
            {
                "DetailType": "AccountBasedExpenseLineDetail",
                "Amount": AMOUNT,
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": await session.account_id("AccountType", RECEIVABLE)}
                },
            }
        ],
    }
    if customer is not None:
        body["EntityRef"] = {"value": customer, "type": "Customer"}
    return await session.create("Purchase", body)


async def _balance(session: CheckSession, customer: str) -> str:
    read = entity_of(await session.qbo.read("Customer", customer), "Customer", "read customer")
    return cents(read.get("Balance"))


async def expense_on_receivable(session: CheckSession) -> Outcome:
    customer = await session.customer_id()
    paid = await _expense(session, customer)
    balance = await _balance(session, customer)
    unpaid = await _expense(session, None)
    observed = f"to a customer {_status(paid)}, customer Balance {balance}; "
    observed += f"without a payee {_status(unpaid)}"
    expected = "to a customer 200, customer Balance 10.00; without a payee 400 6000"
    details = {"to_customer": paid.summary(), "without_payee": unpaid.summary()}
    return Outcome(expected, observed, observed == expected, details)


async def zero_payment_links(session: CheckSession) -> Outcome:
    customer = await session.customer_id()
    memo_body = {
        "PrivateNote": _note(session),
        "CustomerRef": {"value": customer},
        "Line": await _item_lines(session),
    }
    memo = entity_of(await session.create("CreditMemo", memo_body), "CreditMemo", "credit memo")
    expense = entity_of(await _expense(session, customer), "Purchase", "create expense")
    payment_body = {
        "PrivateNote": _note(session),
        "CustomerRef": {"value": customer},
        "TotalAmt": Decimal(0),
        "Line": [
            {"Amount": AMOUNT, "LinkedTxn": [{"TxnId": expense["Id"], "TxnType": "Expense"}]},
            {"Amount": AMOUNT, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
        ],
    }
    payment = await session.create("Payment", payment_body)
    if not payment.ok:
        raise ContractHttpError("create the zero payment", payment)
    read = entity_of(await session.qbo.read("CreditMemo", memo["Id"]), "CreditMemo", "read memo")
    observed = (
        f"payment {_status(payment)} TotalAmt {cents(payment.entity('Payment').get('TotalAmt'))}, "
        f"credit memo RemainingCredit {cents(read.get('RemainingCredit'))}, "
        f"customer Balance {await _balance(session, customer)}"
    )
    expected = "payment 200 TotalAmt 0.00, credit memo RemainingCredit 0.00, customer Balance 0.00"
    return Outcome(expected, observed, observed == expected, {"payment": payment.summary()})


CHECKS = (
    Check(
        name="refund receipt from Undeposited Funds",
        source="Intuit RefundReceipt reference (DepositToAccountRef: 'Account.AccountType is "
        "Other Current Asset or Bank', which Undeposited Funds is); the refusal of another "
        "type (6000) is the emulator's model (qbo_emulator/refunds.py)",
        sends="RefundReceipt of 10.00 from the Undeposited Funds account, then one from an "
        "Income account",
        expects="the first accepted, the second refused with 6000",
        run=refund_from_undeposited,
        unknown=True,
    ),
    Check(
        name="expense line on Accounts Receivable",
        source="Intuit help 'Refund your customer for a paid invoice in QuickBooks Online' (an "
        "expense on A/R paid to the customer) and Purchase reference; the balance it raises "
        "and the refusal without a customer payee (6000) are the emulator's model "
        "(qbo_emulator/refunds.py)",
        sends="Purchase (Cash, from the first bank account) with one 10.00 line on Accounts "
        "Receivable, paid to a customer; the same without a payee",
        expects="accepted, the customer's Balance 10.00; without a payee refused with 6000",
        run=expense_on_receivable,
        unknown=True,
    ),
    Check(
        name="zero payment linking a credit memo and an expense",
        source="Intuit help 'Refund your customer for a paid invoice' (link the credit memo and "
        "the expense with a received payment) and Payment reference (lines may link a "
        "CreditMemo or an Expense); the balances after are the emulator's model",
        sends="a 10.00 credit memo, a 10.00 A/R expense to the same customer, a Payment of 0 "
        "with a line linking each",
        expects="payment 200 TotalAmt 0.00, credit memo RemainingCredit 0.00, customer "
        "Balance 0.00",
        run=zero_payment_links,
        unknown=True,
    ),
)
