"""QBO sales transactions: Invoice, SalesReceipt, Payment (qbo-api.md §6.3-6.5), RefundReceipt and
CreditMemo, and their lines.

Same rules as `entities.py`: QBO's field names, unknown fields kept as extras, money as Decimal.
A line is one `Line` model whatever its `DetailType` (SalesItemLineDetail, DiscountLineDetail,
SubTotalLineDetail, DescriptionOnly, or any other QBO sends, such as GroupLineDetail, which is
kept as extras) because QBO's own shape is "one detail object named after DetailType".
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import SerializerFunctionWrapHandler, model_serializer

from app.integrations.quickbooks.entities import (
    EmailAddress,
    MemoRef,
    Money,
    PhysicalAddress,
    QboEntity,
    QboModel,
    Ref,
)

SALES_ITEM = "SalesItemLineDetail"
DISCOUNT = "DiscountLineDetail"
SUBTOTAL = "SubTotalLineDetail"
DESCRIPTION_ONLY = "DescriptionOnly"


class SalesItemLineDetail(QboModel):
    """A sales line's item, quantity and price.

    On a TaxInclusive document QBO keeps the line's `Amount` and `UnitPrice` NET of tax
    (UnitPrice to up to 7 places) and the gross in `TaxInclusiveAmt` (real AU invoices in
    tests/conformance/samples/au-tax-inclusive-invoices.json; qbo-api.md correction 2).
    """

    ItemRef: Ref | None = None
    Qty: Money | None = None
    UnitPrice: Money | None = None
    TaxCodeRef: Ref | None = None
    TaxInclusiveAmt: Money | None = None
    ServiceDate: date | None = None
    ClassRef: Ref | None = None

    @model_serializer(mode="wrap")
    def _unset_gross_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A dump without the gross is the one earlier versions hashed (invoices' content_hash):
        # adding the field must not make every stored tax-exclusive invoice look changed.
        data: dict[str, Any] = handler(self)
        if data.get("TaxInclusiveAmt", 0) is None:
            del data["TaxInclusiveAmt"]
        return data


class DiscountLineDetail(QboModel):
    PercentBased: bool | None = None
    DiscountPercent: Money | None = None
    DiscountAccountRef: Ref | None = None


class SubTotalLineDetail(QboModel):
    """Read-only: QBO adds a subtotal line to every sales form."""


class DescriptionLineDetail(QboModel):
    ServiceDate: date | None = None
    TaxCodeRef: Ref | None = None


class LinkedTxn(QboModel):
    TxnId: str | None = None
    TxnType: str | None = None
    TxnLineId: str | None = None


# Aliases for fields named like their own type (see `_MetaData` in entities.py).
_SalesItemLineDetail = SalesItemLineDetail
_DiscountLineDetail = DiscountLineDetail
_SubTotalLineDetail = SubTotalLineDetail
_DescriptionLineDetail = DescriptionLineDetail
_LinkedTxn = LinkedTxn


class Line(QboModel):
    Id: str | None = None
    LineNum: int | None = None
    DetailType: str | None = None
    Amount: Money | None = None
    Description: str | None = None
    SalesItemLineDetail: _SalesItemLineDetail | None = None
    DiscountLineDetail: _DiscountLineDetail | None = None
    SubTotalLineDetail: _SubTotalLineDetail | None = None
    DescriptionLineDetail: _DescriptionLineDetail | None = None


class TaxLineDetail(QboModel):
    TaxRateRef: Ref | None = None
    PercentBased: bool | None = None
    TaxPercent: Money | None = None
    NetAmountTaxable: Money | None = None


_TaxLineDetail = TaxLineDetail


class TaxLine(QboModel):
    DetailType: str | None = None
    Amount: Money | None = None
    TaxLineDetail: _TaxLineDetail | None = None


_TaxLine = TaxLine


class TxnTaxDetail(QboModel):
    TxnTaxCodeRef: Ref | None = None
    TotalTax: Money | None = None
    TaxLine: list[_TaxLine] | None = None


_Line = Line
_TxnTaxDetail = TxnTaxDetail


class SalesTransaction(QboEntity):
    """Fields Invoice and SalesReceipt share."""

    DocNumber: str | None = None
    TxnDate: date | None = None
    CustomerRef: Ref | None = None
    Line: list[_Line] | None = None
    TxnTaxDetail: _TxnTaxDetail | None = None
    GlobalTaxCalculation: str | None = None
    ApplyTaxAfterDiscount: bool | None = None
    TotalAmt: Money | None = None
    HomeTotalAmt: Money | None = None
    Balance: Money | None = None
    CurrencyRef: Ref | None = None
    ExchangeRate: Money | None = None
    PrivateNote: str | None = None
    CustomerMemo: MemoRef | None = None
    BillEmail: EmailAddress | None = None
    BillAddr: PhysicalAddress | None = None
    ShipAddr: PhysicalAddress | None = None
    ShipFromAddr: PhysicalAddress | None = None
    EmailStatus: str | None = None
    PrintStatus: str | None = None
    DepositToAccountRef: Ref | None = None
    LinkedTxn: list[_LinkedTxn] | None = None
    ClassRef: Ref | None = None
    DepartmentRef: Ref | None = None


class Invoice(SalesTransaction):
    entity_name: ClassVar[str] = "Invoice"

    DueDate: date | None = None
    SalesTermRef: Ref | None = None
    Deposit: Money | None = None
    HomeBalance: Money | None = None
    AllowOnlineCreditCardPayment: bool | None = None
    AllowOnlineACHPayment: bool | None = None


class SalesReceipt(SalesTransaction):
    entity_name: ClassVar[str] = "SalesReceipt"

    PaymentMethodRef: Ref | None = None
    PaymentRefNum: str | None = None


class PaymentLine(QboModel):
    """A Payment line applies `Amount` to the transactions in `LinkedTxn` (usually one Invoice)."""

    Amount: Money | None = None
    LinkedTxn: list[_LinkedTxn] | None = None


class Payment(QboEntity):
    entity_name: ClassVar[str] = "Payment"

    TxnDate: date | None = None
    CustomerRef: Ref | None = None
    TotalAmt: Money | None = None
    UnappliedAmt: Money | None = None
    CurrencyRef: Ref | None = None
    ExchangeRate: Money | None = None
    PaymentMethodRef: Ref | None = None
    PaymentRefNum: str | None = None
    DepositToAccountRef: Ref | None = None
    PrivateNote: str | None = None
    Line: list[PaymentLine] | None = None


class RefundReceipt(SalesTransaction):
    """Money paid back for a sale (Intuit's RefundReceipt reference: `DepositToAccountRef`, the
    account the refund is paid from, is required; a Bank or Other Current Asset account)."""

    entity_name: ClassVar[str] = "RefundReceipt"

    PaymentMethodRef: Ref | None = None
    PaymentRefNum: str | None = None


class CreditMemo(SalesTransaction):
    """A credit to the customer's balance (Intuit's CreditMemo reference); `RemainingCredit` is
    what no Payment has used yet."""

    entity_name: ClassVar[str] = "CreditMemo"

    RemainingCredit: Money | None = None


class EntityRef(QboModel):
    """A payee: `type` names the entity (Customer, Vendor, Employee)."""

    value: str
    name: str | None = None
    type: str | None = None


class AccountBasedExpenseLineDetail(QboModel):
    AccountRef: Ref | None = None
    TaxCodeRef: Ref | None = None


_AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail
_EntityRef = EntityRef


class ExpenseLine(QboModel):
    Id: str | None = None
    DetailType: str | None = None
    Amount: Money | None = None
    Description: str | None = None
    AccountBasedExpenseLineDetail: _AccountBasedExpenseLineDetail | None = None


class Purchase(QboEntity):
    """An expense (Intuit's Purchase reference): paid from `AccountRef` (a Bank account for Cash
    and Check), to `EntityRef`, on the accounts of its lines."""

    entity_name: ClassVar[str] = "Purchase"

    PaymentType: str | None = None
    AccountRef: Ref | None = None
    EntityRef: _EntityRef | None = None
    TxnDate: date | None = None
    TotalAmt: Money | None = None
    CurrencyRef: Ref | None = None
    PrivateNote: str | None = None
    Line: list[ExpenseLine] | None = None
