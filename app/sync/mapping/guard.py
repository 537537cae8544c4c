"""The last check before a document is written: QBO's total, predicted from the lines as sent.

It reads the built QBO lines (not the figures the mapping started from) and applies the rules
QBO totals with, so that a document whose QBO total would differ from the CRM's is refused
BEFORE anything is written:

* non-US, tax-exclusive / not applicable: `regional.predict` (tax per code after the discount);
* non-US, tax-inclusive: TotalAmt = sum of TaxInclusiveAmt, each net backed out per line
  (`inclusive`, proven on real AU invoices);
* US: subtotal - discount + the explicit TxnTaxDetail.TotalTax, which Automated Sales Tax
  honours (Intuit blog "Sales tax override", 2017-12-11; qbo-api.md correction 8).

The service still compares QBO's answer with the CRM total after the write (crm_to_qbo).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.integrations.quickbooks.transactions import DISCOUNT, SALES_ITEM, Line, TxnTaxDetail
from app.sync.mapping.inclusive import back_out, predict_inclusive
from app.sync.mapping.money import (
    ZERO,
    MappingError,
    check_places,
    round_places,
    show_money,
)
from app.sync.mapping.regional import QboDiscount, TaxMode, predict


class UnpredictableError(MappingError):
    """The lines are in a form whose QBO total the service cannot vouch for."""


def _discount(lines: list[Line]) -> QboDiscount | None:
    found = [line for line in lines if line.DetailType == DISCOUNT]
    if len(found) > 1:
        raise UnpredictableError("more than one discount line")
    if not found:
        return None
    line, detail = found[0], found[0].DiscountLineDetail
    amount = line.Amount if line.Amount is not None else ZERO
    percent = detail.DiscountPercent if detail is not None and detail.PercentBased else None
    return QboDiscount(percent, amount)


def _sales(lines: list[Line], currency: str) -> list[Line]:
    sales = [line for line in lines if line.DetailType == SALES_ITEM]
    if len(sales) + sum(line.DetailType == DISCOUNT for line in lines) != len(lines):
        raise UnpredictableError("a line that is neither a sales line nor the discount line")
    for line in sales:
        detail = line.SalesItemLineDetail
        if line.Amount is None or detail is None or detail.Qty is None or detail.UnitPrice is None:
            raise UnpredictableError("a sales line without Amount, Qty or UnitPrice")
        # QBO refuses Amount != Qty x UnitPrice (fault 6070, qbo-api.md §3.2).
        if round_places(detail.Qty * detail.UnitPrice, check_places(currency)) != line.Amount:
            raise UnpredictableError(f"line amount {line.Amount} is not its Qty x UnitPrice")
    return sales


def _code(line: Line, codes: Mapping[str, CompanyTaxCode]) -> CompanyTaxCode:
    detail = line.SalesItemLineDetail
    ref = detail.TaxCodeRef if detail is not None else None
    code = codes.get(ref.value) if ref is not None and ref.value is not None else None
    if code is None:
        raise UnpredictableError("a sales line without one of the company's tax codes")
    return code


def _inclusive_total(
    sales: list[Line], codes: Mapping[str, CompanyTaxCode], currency: str
) -> Decimal:
    grosses, rates, ids = [], [], []
    for line in sales:
        code, detail = _code(line, codes), line.SalesItemLineDetail
        gross = detail.TaxInclusiveAmt if detail is not None else None
        if gross is None or line.Amount != back_out(gross, code.rate, currency):
            raise UnpredictableError("a tax-inclusive line whose net is not its gross backed out")
        grosses.append(gross)
        rates.append(code.rate)
        ids.append(code.id)
    return predict_inclusive(grosses, rates, ids, currency).total


def predicted_total(
    lines: list[Line],
    tax_detail: TxnTaxDetail | None,
    mode: TaxMode | None,
    codes: Mapping[str, CompanyTaxCode],
    currency: str,
) -> Decimal:
    """QBO's TotalAmt for these lines; ``mode`` None means a US (AST) company."""
    discount, sales = _discount(lines), _sales(lines, currency)
    amounts = [line.Amount or ZERO for line in sales]
    if mode is None:
        if tax_detail is None or tax_detail.TotalTax is None:
            raise UnpredictableError("a US document without an explicit TotalTax")
        subtotal = sum(amounts, ZERO)
        taken = discount.value(subtotal, currency) if discount else ZERO
        return subtotal - taken + tax_detail.TotalTax
    if mode == "TaxInclusive":
        if discount is not None:
            # How QBO applies a discount line to gross prices is not known (PHP SDK #232 shows
            # one refused): the mapping folds the discount into the lines instead.
            raise UnpredictableError("a discount line on a tax-inclusive document")
        return _inclusive_total(sales, codes, currency)
    line_codes = [_code(line, codes) if mode != "NotApplicable" else None for line in sales]
    return predict(amounts, line_codes, discount, mode, currency).total


def ensure_total(
    lines: list[Line],
    tax_detail: TxnTaxDetail | None,
    mode: TaxMode | None,
    codes: Mapping[str, CompanyTaxCode],
    currency: str,
    expected: Decimal,
) -> None:
    """Refuse, before the write, a document QBO would total differently from the CRM."""
    try:
        qbo = predicted_total(lines, tax_detail, mode, codes, currency)
    except UnpredictableError as exc:
        raise MappingError(
            f"The QuickBooks total of this document cannot be predicted ({exc}), so it is "
            "not written; report this to support"
        ) from exc
    if qbo != expected:
        raise MappingError(
            f"QuickBooks would total this document {show_money(qbo, currency)} but the CRM "
            f"total is {show_money(expected, currency)}, so it is not written; report this "
            "to support with the CRM document"
        )
