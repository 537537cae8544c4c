"""RefundReceipt as Intuit's reference describes it (qbo_emulator/refunds.py names the sources).

The read sample of Intuit's RefundReceipt page is copied to
samples/refundreceipt-read-intuit-doc.json; the emulator's object carries its shape.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qbo_emulator.config import EmulatorConfig

from .conftest import QBO, load_sample


@pytest.fixture
def config(config: EmulatorConfig) -> EmulatorConfig:
    # These tests make more than Intuit's 10 requests a second; the throttle is not under test.
    config.rate_limit_per_second = 1000
    return config


async def _account(qbo: QBO, name: str) -> str:
    response = await qbo.query("select * from Account")
    accounts = response.json()["QueryResponse"]["Account"]
    account_id: str = next(a["Id"] for a in accounts if a["Name"] == name)
    return account_id


async def _body(qbo: QBO, account: str | None) -> dict[str, Any]:
    customer = await qbo.create("Customer", {"DisplayName": "Pye's Cakes"})
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer["Id"]},
        "PaymentRefNum": "rf_1",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 87.5,
                "Description": "Refund - Pest control was ineffective",
                "SalesItemLineDetail": {"Qty": 2.5, "UnitPrice": 35},
            }
        ],
    }
    if account is not None:
        body["DepositToAccountRef"] = {"value": await _account(qbo, account)}
    return body


async def test_refund_receipt_reads_back_in_intuits_shape(qbo: QBO) -> None:
    created = await qbo.create("RefundReceipt", await _body(qbo, "Checking"))
    read = await qbo.read("RefundReceipt", created["Id"])
    sample = load_sample("refundreceipt-read-intuit-doc.json")["RefundReceipt"]
    # Every property of Intuit's sample the emulator models (addresses, memo, custom fields
    # and the payment method are the sample company's own data).
    modelled = set(sample) - {"BillAddr", "ShipAddr", "CustomerMemo", "CustomField", "BillEmail",
                              "PaymentMethodRef"}  # fmt: skip
    assert modelled <= set(read), modelled - set(read)
    assert Decimal(str(read["TotalAmt"])) == Decimal("87.50")
    assert Decimal(str(read["Balance"])) == 0
    assert read["DepositToAccountRef"]["name"] == "Checking"
    assert read["PaymentRefNum"] == "rf_1"
    kinds = [line["DetailType"] for line in read["Line"]]
    assert kinds == ["SalesItemLineDetail", "SubTotalLineDetail"]


async def test_refund_account_is_required(qbo: QBO) -> None:
    response = await qbo.post("/refundreceipt", await _body(qbo, None))
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["element"] == "DepositToAccountRef"


async def test_refund_from_undeposited_funds_is_accepted(qbo: QBO) -> None:
    created = await qbo.create("RefundReceipt", await _body(qbo, "Undeposited Funds"))
    assert created["DepositToAccountRef"]["name"] == "Undeposited Funds"


async def test_refund_from_an_income_account_is_refused(qbo: QBO) -> None:
    response = await qbo.query("select * from Account where AccountType = 'Income'")
    income = response.json()["QueryResponse"]["Account"][0]["Id"]
    body = await _body(qbo, None)
    body["DepositToAccountRef"] = {"value": income}
    refused = await qbo.post("/refundreceipt", body)
    assert refused.status_code == 400, refused.text


async def test_void_zeroes_the_refund(qbo: QBO) -> None:
    created = await qbo.create("RefundReceipt", await _body(qbo, "Checking"))
    body = {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True}
    response = await qbo.post("/refundreceipt", body, operation="update", include="void")
    assert response.status_code == 200, response.text
    voided = response.json()["RefundReceipt"]
    assert Decimal(str(voided["TotalAmt"])) == 0
    assert voided["PrivateNote"].startswith("Voided")


# --- a paid invoice refunded as Intuit's help page describes ---------------------------------


async def _customer_balance(qbo: QBO, customer_id: str) -> Decimal:
    return Decimal(str((await qbo.read("Customer", customer_id)).get("Balance", 0)))


async def test_credit_memo_reads_back_in_intuits_shape(qbo: QBO) -> None:
    customer = await qbo.create("Customer", {"DisplayName": "Cool Cars"})
    line = {"DetailType": "SalesItemLineDetail", "Amount": 50, "SalesItemLineDetail": {}}
    memo = await qbo.create(
        "CreditMemo", {"Line": [line], "CustomerRef": {"value": customer["Id"]}}
    )
    sample = load_sample("creditmemo-create-intuit-doc.json")["CreditMemo"]
    modelled = set(sample) - {"BillAddr", "ShipAddr", "CustomField", "ProjectRef"}
    assert modelled <= set(memo), modelled - set(memo)
    assert Decimal(str(memo["RemainingCredit"])) == Decimal(str(memo["Balance"])) == 50
    assert await _customer_balance(qbo, customer["Id"]) == -50


async def test_paid_invoice_refund_leaves_every_balance_at_zero(qbo: QBO) -> None:
    customer = (await qbo.create("Customer", {"DisplayName": "Refunded"}))["Id"]
    who = {"value": customer}
    line = {"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": {}}
    invoice = await qbo.create("Invoice", {"Line": [line], "CustomerRef": who})
    paid = {"Amount": 100, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
    await qbo.create("Payment", {"TotalAmt": 100, "CustomerRef": who, "Line": [paid]})
    refund = dict(line, Amount=30)
    memo = await qbo.create("CreditMemo", {"Line": [refund], "CustomerRef": who})
    receivable = await _account(qbo, "Accounts Receivable (A/R)")
    expense = await qbo.create(
        "Purchase",
        {
            "PaymentType": "Cash",
            "AccountRef": {"value": await _account(qbo, "Checking")},
            "EntityRef": {"value": customer, "type": "Customer"},
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 30,
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": receivable}},
                }
            ],
        },
    )
    assert await _customer_balance(qbo, customer) == 0  # -30 credit, +30 charge, unlinked
    links = [
        {"Amount": 30, "LinkedTxn": [{"TxnId": expense["Id"], "TxnType": "Expense"}]},
        {"Amount": 30, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
    ]
    link = await qbo.create("Payment", {"TotalAmt": 0, "CustomerRef": who, "Line": links})
    assert Decimal(str(link["UnappliedAmt"])) == 0
    assert Decimal(str((await qbo.read("CreditMemo", memo["Id"]))["RemainingCredit"])) == 0
    assert Decimal(str((await qbo.read("Invoice", invoice["Id"]))["Balance"])) == 0
    assert await _customer_balance(qbo, customer) == 0
    # The credit is used up: linking it again is refused.
    again = await qbo.post("/payment", {"TotalAmt": 0, "CustomerRef": who, "Line": links})
    assert again.status_code == 400, again.text
