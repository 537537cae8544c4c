"""Tax-inclusive documents in QBO's stored form, US tax posted as tax, and the pre-write guard.

Inputs are minimal synthetic CRM documents; the money rules they rely on are checked against
real QBO invoices in tests/conformance/test_service_money_rules.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.integrations.crm.schemas import Discount, LineItem, Tax
from app.integrations.quickbooks.transactions import Line, TxnTaxDetail
from app.sync.mapping.documents import (
    CompanyTaxCode,
    DocumentInput,
    MappingError,
    map_regional_document,
    map_us_document,
)
from app.sync.mapping.guard import ensure_total, predicted_total

D = Decimal
GST = Tax(name="GST", rate=D(10), inclusive=True)
AU_CODES = [CompanyTaxCode("5", "GST", D(10)), CompanyTaxCode("7", "GST free", D(0))]
SALES = Tax(name="Sales tax", rate=D("8.25"))


def item(name: str, qty: str, price: str, *taxes: Tax) -> LineItem:
    return LineItem(name=name, quantity=D(qty), unit_price=D(price), taxes=list(taxes))


def document(
    currency: str,
    lines: list[LineItem],
    *,
    total: str,
    tax: str,
    discount: Discount | None = None,
    taken: str = "0",
) -> DocumentInput:
    return DocumentInput(
        currency=currency,
        lines=lines,
        discount=discount,
        totals_total=D(total),
        totals_tax=D(tax),
        totals_discount=D(taken),
        item_ids={line.name: str(number) for number, line in enumerate(lines, start=11)},
    )


def detail(line: Line) -> Any:
    assert line.SalesItemLineDetail is not None
    return line.SalesItemLineDetail


def by_id(codes: list[CompanyTaxCode]) -> dict[str, CompanyTaxCode]:
    return {code.id: code for code in codes}


class TestTaxInclusive:
    def test_lines_in_qbos_stored_form(self) -> None:
        # The first line of real invoice 2508: 3 x 101.82 gross = 305.46, stored as net 277.69
        # at UnitPrice 92.5633333 (277.69 / 3 at 7 places).
        doc = document("AUD", [item("Wire", "3", "101.82", GST)], total="305.46", tax="27.77")
        mapped = map_regional_document(doc, AU_CODES)
        (line,) = mapped.lines
        assert mapped.global_tax_calculation == "TaxInclusive"
        assert line.Amount == D("277.69")
        assert detail(line).UnitPrice == D("92.5633333")
        assert detail(line).TaxInclusiveAmt == D("305.46")
        assert detail(line).TaxCodeRef.value == "5"
        assert mapped.txn_tax_detail is None
        assert predicted_total(mapped.lines, None, "TaxInclusive", by_id(AU_CODES), "AUD") == D(
            "305.46"
        )
        assert mapped.notes == []

    def test_tax_rounded_per_line_is_noted_when_the_crm_rounds_per_document(self) -> None:
        # Two lines of 87.50 gross: QBO backs out 79.55 each (tax 7.95 + 7.95 = 15.90); a CRM
        # backing tax out of the 175.00 total says 15.91. The total is the CRM's either way.
        lines = [item("A", "2", "43.75", GST), item("B", "2", "43.75", GST)]
        mapped = map_regional_document(
            document("AUD", lines, total="175.00", tax="15.91"), AU_CODES
        )
        assert [line.Amount for line in mapped.lines] == [D("79.55"), D("79.55")]
        assert mapped.notes == ["QuickBooks will show tax 15.90 where the CRM shows 15.91 "
                                "(QuickBooks rounds tax differently)"]  # fmt: skip

    def test_discount_is_taken_from_the_line_grosses_not_a_discount_line(self) -> None:
        lines = [item("A", "1", "110", GST), item("B", "1", "55")]
        doc = document(
            "AUD", lines, total="148.50", tax="9.00",
            discount=Discount(type="percentage", value=D(10)), taken="16.50",
        )  # fmt: skip
        mapped = map_regional_document(doc, AU_CODES)
        assert [line.DetailType for line in mapped.lines] == ["SalesItemLineDetail"] * 2
        assert [detail(line).TaxInclusiveAmt for line in mapped.lines] == [D(99), D("49.50")]
        assert [line.Amount for line in mapped.lines] == [D(90), D("49.50")]
        assert [detail(line).TaxCodeRef.value for line in mapped.lines] == ["5", "7"]
        assert "Discount 16.50 taken from the lines' tax-inclusive amounts" in mapped.notes[0]

    def test_crm_rounding_residue_goes_on_a_rounding_line_at_the_zero_code(self) -> None:
        lines = [item("A", "3", "3.33", GST)]  # 9.99 gross; the CRM says 10.00
        mapped = map_regional_document(document("AUD", lines, total="10.00", tax="0.91"), AU_CODES)
        rounding = mapped.lines[-1]
        assert rounding.Amount == D("0.01")
        assert detail(rounding).TaxInclusiveAmt == D("0.01")
        assert detail(rounding).TaxCodeRef.value == "7"
        codes = by_id(AU_CODES)
        assert predicted_total(mapped.lines, None, "TaxInclusive", codes, "AUD") == D("10.00")

    def test_without_a_zero_code_the_residue_goes_into_a_line(self) -> None:
        lines = [item("A", "3", "3.33", GST)]
        mapped = map_regional_document(
            document("AUD", lines, total="10.00", tax="0.91"), AU_CODES[:1]
        )
        (line,) = mapped.lines
        assert detail(line).TaxInclusiveAmt == D("10.00")
        assert line.Amount == D("9.09")


class TestGuard:
    def test_a_line_not_in_qbos_form_is_refused_before_the_write(self) -> None:
        doc = document("AUD", [item("A", "1", "87.50", GST)], total="87.50", tax="7.95")
        mapped = map_regional_document(doc, AU_CODES)
        wrong = mapped.lines[0].model_copy(update={"Amount": D("79.54")})
        with pytest.raises(MappingError, match="cannot be predicted"):
            ensure_total([wrong], None, "TaxInclusive", by_id(AU_CODES), "AUD", D("87.50"))

    def test_a_predicted_mismatch_is_refused_before_the_write(self) -> None:
        doc = document("AUD", [item("A", "1", "87.50", GST)], total="87.50", tax="7.95")
        mapped = map_regional_document(doc, AU_CODES)
        with pytest.raises(MappingError, match=r"would total this document 87\.50 .* 87\.51"):
            ensure_total(mapped.lines, None, "TaxInclusive", by_id(AU_CODES), "AUD", D("87.51"))

    def test_us_total_is_lines_less_discount_plus_the_explicit_tax(self) -> None:
        doc = document("USD", [item("A", "2", "10", SALES)], total="21.65", tax="1.65")
        mapped = map_us_document(doc, "post")
        assert predicted_total(mapped.lines, mapped.txn_tax_detail, None, {}, "USD") == D("21.65")
        without = TxnTaxDetail(TotalTax=None)
        with pytest.raises(MappingError, match="without an explicit TotalTax"):
            ensure_total(mapped.lines, without, None, {}, "USD", D("21.65"))


class TestUsPosted:
    def test_lines_net_taxable_and_the_crm_tax_sent_as_total_tax(self) -> None:
        lines = [item("Widget", "3", "9.99", SALES), item("Gift card", "1", "20")]
        doc = document("USD", lines, total="52.44", tax="2.47")
        mapped = map_us_document(doc, "post")
        assert [line.Amount for line in mapped.lines] == [D("29.97"), D(20)]
        assert [detail(line).UnitPrice for line in mapped.lines] == [D("9.99"), D(20)]
        assert [detail(line).TaxCodeRef.value for line in mapped.lines] == ["TAX", "NON"]
        assert mapped.txn_tax_detail == TxnTaxDetail(TotalTax=D("2.47"))
        assert mapped.global_tax_calculation is None
        assert mapped.notes == []

    def test_discount_is_a_discount_line(self) -> None:
        doc = document(
            "USD", [item("A", "1", "100", SALES)], total="97.43", tax="7.43",
            discount=Discount(type="percentage", value=D(10)), taken="10.00",
        )  # fmt: skip
        mapped = map_us_document(doc, "post")
        discount = mapped.lines[-1]
        assert discount.DetailType == "DiscountLineDetail"
        assert discount.Amount == D("10.00")
        assert discount.DiscountLineDetail is not None
        assert discount.DiscountLineDetail.DiscountPercent == D(10)
        assert mapped.txn_tax_detail == TxnTaxDetail(TotalTax=D("7.43"))

    def test_crm_cents_apart_post_what_makes_the_total_and_say_so(self) -> None:
        # Two lines taxed per line by the CRM: 0.83 + 0.83 = 1.66 but its total says 1.65 of tax.
        lines = [item("A", "1", "10", SALES), item("B", "1", "10", SALES)]
        mapped = map_us_document(document("USD", lines, total="21.65", tax="1.66"), "post")
        assert mapped.txn_tax_detail == TxnTaxDetail(TotalTax=D("1.65"))
        assert "Sales tax posted as 1.65 where the CRM shows 1.66" in mapped.notes[0]

    def test_inclusive_prices_are_folded_with_a_note(self) -> None:
        vat = Tax(name="VAT", rate=D(20), inclusive=True)
        mapped = map_us_document(document("USD", [item("A", "1", "12", vat)], total="12.00",
                                          tax="2.00"), "post")  # fmt: skip
        assert mapped.txn_tax_detail == TxnTaxDetail(TotalTax=D(0))
        assert "folded into the lines instead of posted" in mapped.notes[0]

    def test_fold_stays_the_default(self) -> None:
        doc = document("USD", [item("A", "2", "10", SALES)], total="21.65", tax="1.65")
        mapped = map_us_document(doc)
        assert [line.Amount for line in mapped.lines] == [D("21.65")]
        assert mapped.txn_tax_detail == TxnTaxDetail(TotalTax=D(0))
