"""QBO entities as pydantic models with QBO's own field names (qbo-api.md §6).

Only the fields the sync reads or writes are modelled; every other field QBO sends is kept as a
pydantic extra (`extra="allow"`, also on nested objects), so reading an object and writing it
back never drops data. A body this service builds is the opposite case: it passes `for_write`,
which refuses any field (nested ones too) the models do not declare. Money, quantities and
rates are `Decimal`: parse QBO JSON with `json.loads(text, parse_float=Decimal)`, never through
float. Transactions (Invoice, SalesReceipt, Payment and their lines) live in `transactions.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _no_float(value: Any) -> Any:
    # A float has already lost the cents (0.1 is not 0.1); make the caller pass Decimal or str.
    if isinstance(value, float):
        raise ValueError("money and quantities must be Decimal, int or str, never float")
    return value


Money = Annotated[Decimal, BeforeValidator(_no_float)]


class QboModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class MetaData(QboModel):
    CreateTime: datetime | None = None
    LastUpdatedTime: datetime | None = None


# Private aliases for annotations: a field named like its type (`MetaData: MetaData`) would
# otherwise resolve to the field's own default inside the class body.
_MetaData = MetaData


class QboEntity(QboModel):
    """An object with its own endpoint: `entity_name` is QBO's name, lowercased in URLs."""

    entity_name: ClassVar[str] = ""

    Id: str | None = None
    SyncToken: str | None = None
    MetaData: _MetaData | None = None


class Ref(QboModel):
    value: str
    name: str | None = None


class MemoRef(QboModel):
    value: str


class EmailAddress(QboModel):
    Address: str | None = None


class TelephoneNumber(QboModel):
    FreeFormNumber: str | None = None


class PhysicalAddress(QboModel):
    Id: str | None = None
    Line1: str | None = None
    Line2: str | None = None
    Line3: str | None = None
    Line4: str | None = None
    Line5: str | None = None
    City: str | None = None
    CountrySubDivisionCode: str | None = None
    PostalCode: str | None = None
    Country: str | None = None


class NameValue(QboModel):
    Name: str | None = None
    Value: str | None = None


_NameValue = NameValue


class Customer(QboEntity):
    entity_name: ClassVar[str] = "Customer"

    DisplayName: str | None = None
    Title: str | None = None
    GivenName: str | None = None
    MiddleName: str | None = None
    FamilyName: str | None = None
    Suffix: str | None = None
    CompanyName: str | None = None
    FullyQualifiedName: str | None = None
    PrintOnCheckName: str | None = None
    PrimaryEmailAddr: EmailAddress | None = None
    PrimaryPhone: TelephoneNumber | None = None
    Mobile: TelephoneNumber | None = None
    BillAddr: PhysicalAddress | None = None
    ShipAddr: PhysicalAddress | None = None
    Notes: str | None = None
    Active: bool | None = None
    Taxable: bool | None = None
    Balance: Money | None = None
    BalanceWithJobs: Money | None = None
    DefaultTaxCodeRef: Ref | None = None
    TaxExemptionReasonId: str | None = None
    CurrencyRef: Ref | None = None
    PreferredDeliveryMethod: str | None = None
    ParentRef: Ref | None = None
    Job: bool | None = None
    BillWithParent: bool | None = None


class Item(QboEntity):
    entity_name: ClassVar[str] = "Item"

    Name: str | None = None
    FullyQualifiedName: str | None = None
    Description: str | None = None
    Type: str | None = None
    Active: bool | None = None
    Taxable: bool | None = None
    UnitPrice: Money | None = None
    Sku: str | None = None
    IncomeAccountRef: Ref | None = None
    ExpenseAccountRef: Ref | None = None
    AssetAccountRef: Ref | None = None
    SalesTaxCodeRef: Ref | None = None
    TrackQtyOnHand: bool | None = None
    QtyOnHand: Money | None = None
    InvStartDate: date | None = None
    SubItem: bool | None = None
    ParentRef: Ref | None = None


class Account(QboEntity):
    entity_name: ClassVar[str] = "Account"

    Name: str | None = None
    FullyQualifiedName: str | None = None
    AccountType: str | None = None
    AccountSubType: str | None = None
    Classification: str | None = None
    AcctNum: str | None = None
    Active: bool | None = None
    SubAccount: bool | None = None
    ParentRef: Ref | None = None
    CurrentBalance: Money | None = None
    CurrencyRef: Ref | None = None


class TaxRateDetail(QboModel):
    TaxRateRef: Ref | None = None
    TaxTypeApplicable: str | None = None
    TaxOrder: int | None = None


_TaxRateDetail = TaxRateDetail


class TaxRateList(QboModel):
    TaxRateDetail: list[_TaxRateDetail] | None = None


class TaxCode(QboEntity):
    entity_name: ClassVar[str] = "TaxCode"

    Name: str | None = None
    Description: str | None = None
    Active: bool | None = None
    Taxable: bool | None = None
    TaxGroup: bool | None = None
    SalesTaxRateList: TaxRateList | None = None
    PurchaseTaxRateList: TaxRateList | None = None


class TaxRate(QboEntity):
    entity_name: ClassVar[str] = "TaxRate"

    Name: str | None = None
    Description: str | None = None
    Active: bool | None = None
    RateValue: Money | None = None
    AgencyRef: Ref | None = None
    SpecialTaxType: str | None = None
    DisplayType: str | None = None


class CompanyInfo(QboEntity):
    entity_name: ClassVar[str] = "CompanyInfo"

    CompanyName: str | None = None
    LegalName: str | None = None
    Country: str | None = None
    CompanyAddr: PhysicalAddress | None = None
    LegalAddr: PhysicalAddress | None = None
    CustomerCommunicationAddr: PhysicalAddress | None = None
    Email: EmailAddress | None = None
    FiscalYearStartMonth: str | None = None
    SupportedLanguages: str | None = None
    CompanyStartDate: date | None = None
    NameValue: list[_NameValue] | None = None

    def name_value(self, name: str) -> str | None:
        """A value from the `NameValue` list, e.g. "OfferingSku" or "SubscriptionStatus"."""
        return next((nv.Value for nv in self.NameValue or [] if nv.Name == name), None)


class TaxPrefs(QboModel):
    UsingSalesTax: bool | None = None
    PartnerTaxEnabled: bool | None = None
    TaxGroupCodeRef: Ref | None = None


class CurrencyPrefs(QboModel):
    MultiCurrencyEnabled: bool | None = None
    HomeCurrency: Ref | None = None


class SalesFormsPrefs(QboModel):
    CustomTxnNumbers: bool | None = None
    AllowDiscount: bool | None = None
    AllowDeposit: bool | None = None
    AutoApplyPayments: bool | None = None
    AutoApplyCredit: bool | None = None


class AccountingInfoPrefs(QboModel):
    BookCloseDate: date | None = None
    CustomerTerminology: str | None = None


_TaxPrefs = TaxPrefs
_CurrencyPrefs = CurrencyPrefs
_SalesFormsPrefs = SalesFormsPrefs
_AccountingInfoPrefs = AccountingInfoPrefs


class Preferences(QboEntity):
    entity_name: ClassVar[str] = "Preferences"

    TaxPrefs: _TaxPrefs | None = None
    CurrencyPrefs: _CurrencyPrefs | None = None
    SalesFormsPrefs: _SalesFormsPrefs | None = None
    AccountingInfoPrefs: _AccountingInfoPrefs | None = None


M = TypeVar("M", bound=QboModel)


class UnknownFieldError(ValueError):
    """A body we built carries a field no QBO model here declares (a typo, most likely)."""


def _undeclared(model: BaseModel, path: str) -> list[str]:
    found = [f"{path}.{name}" for name in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                found.extend(_undeclared(item, f"{path}.{name}"))
    return found


def for_write(model: M) -> M:
    """`model`, checked as a body this service built to send: only declared fields, at any depth.

    Reading stays tolerant: QBO adds fields at will, and an object read and written back keeps
    them as extras. A body we build has no such excuse: a misspelt field would be sent as is
    and QBO would ignore or refuse it, so it fails here, before any request.
    """
    undeclared = _undeclared(model, type(model).__name__)
    if undeclared:
        raise UnknownFieldError(
            f"refusing to send fields the QBO models do not declare: {', '.join(undeclared)}"
        )
    return model


def to_qbo_json(model: QboModel, *, sparse: bool) -> dict[str, Any]:
    """The JSON object QBO takes for a create (`sparse=False`) or a sparse update (`sparse=True`).

    None never goes out (it means "not set" here; QBO has no use for explicit nulls). A sparse
    update sends only the fields set on `model` (given to the constructor, assigned later, or
    present in the QBO body it was parsed from), extras included, plus `"sparse": true`; QBO
    leaves everything else alone. Values stay Python objects (Decimal, date): encode them with
    `transport.encode_json`, which writes Decimals as exact JSON numbers.
    """
    body = model.model_dump(by_alias=True, exclude_none=True, exclude_unset=sparse)
    body.pop("sparse", None)
    if sparse:
        body["sparse"] = True
    return body
