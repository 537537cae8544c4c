"""One test per S4 rule; each mapped document is also totalled by the emulator's money rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.integrations.crm.schemas import Discount, LineItem, Tax
from app.integrations.quickbooks.entities import to_qbo_json
from app.integrations.quickbooks.transactions import Line
from app.sync.mapping.documents import (
    CompanyTaxCode,
    DocumentInput,
    MappedDocument,
    MappingError,
    check_totals,
    company_tax_codes,
    map_regional_document,
    map_us_document,
)
from app.sync.mapping.regional import choose_code
from qbo_emulator import money as emulator_money
from qbo_emulator.companies import create_company
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.sales import tax_context
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company

D = Decimal
VAT = Tax(name="VAT", rate=D(20))
REDUCED = Tax(name="Reduced", rate=D(5))
GB_CODES = [
    CompanyTaxCode("1", "20.0% S", D(20)),
    CompanyTaxCode("2", "5.0% R", D(5)),
    CompanyTaxCode("3", "0.0% Z", D(0)),
]


def item(name: str, qty: str, price: str, *taxes: Tax, description: str | None = None) -> LineItem:
    return LineItem(
        name=name,
        quantity=D(qty),
        unit_price=D(price),
        taxes=list(taxes),
        description=description,
    )


def document(
    currency: str,
    lines: list[LineItem],
    *,
    total: str,
    tax: str = "0",
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


def company(country: str, currency: str, codes: list[dict[str, str]] | None = None) -> Company:
    return create_company(
        Emulator(EmulatorConfig()), {"country": country, "currency": currency, "tax_codes": codes}
    )


def qbo_total(mapped: MappedDocument, realm: Company) -> Decimal:
    """TotalAmt as the emulator computes it; raises its fault on Amount != Qty x UnitPrice."""
    detail = mapped.txn_tax_detail
    opts: dict[str, Any] = {
        "tax_override": detail.TotalTax if detail and realm.is_us else None,
        "global_calc": mapped.global_tax_calculation,
        "apply_tax_after_discount": False,
    }
    lines = [to_qbo_json(line, sparse=False) for line in mapped.lines]
    return emulator_money.compute(lines, tax_context(realm), opts).total


def sales(mapped: MappedDocument) -> list[Line]:
    return [line for line in mapped.lines if line.DetailType == "SalesItemLineDetail"]


def detail_of(line: Line) -> Any:
    assert line.SalesItemLineDetail is not None
    return line.SalesItemLineDetail


US = company("US", "USD")
GB = company("GB", "GBP")  # 20.0% S (Id 1), 5.0% R (2), 0.0% Z (3), as the emulator seeds GB


class TestUs:
    def test_three_at_9_99_with_tax_keeps_the_quantity(self) -> None:
        doc = document(
            "USD", [item("Widget", "3", "9.99", Tax(name="City tax", rate=D("8.25")))],
            total="32.44", tax="2.47",
        )  # fmt: skip
        mapped = map_us_document(doc)
        (line,) = mapped.lines
        assert line.Amount == D("32.44")
        assert detail_of(line).Qty == D(3)
        assert detail_of(line).UnitPrice == D("10.813")  # 3 x 10.813 = 32.439 -> 32.44
        assert detail_of(line).TaxCodeRef.value == "NON"
        assert mapped.txn_tax_detail is not None
        assert mapped.txn_tax_detail.TotalTax == 0
        assert mapped.global_tax_calculation is None
        assert mapped.expected_total == D("32.44")
        assert qbo_total(mapped, US) == D("32.44")

    def test_percent_discount_is_folded_into_the_lines(self) -> None:
        doc = document(
            "USD", [item("A", "1", "100"), item("B", "2", "25")],
            total="135.00", discount=Discount(type="percentage", value=D(10)), taken="15.00",
        )  # fmt: skip
        mapped = map_us_document(doc)
        assert [line.Amount for line in mapped.lines] == [D("90.00"), D("45.00")]
        assert [detail_of(line).UnitPrice for line in mapped.lines] == [D(90), D("22.50")]
        assert not [line for line in mapped.lines if line.DetailType != "SalesItemLineDetail"]
        assert qbo_total(mapped, US) == D("135.00")

    def test_fixed_discount_residue_goes_to_the_earliest_largest_remainder(self) -> None:
        lines = [item("A", "1", "10.00"), item("B", "1", "10.00"), item("C", "1", "10.00")]
        doc = document(
            "USD", lines, total="20.00", discount=Discount(type="fixed", value=D(10)),
            taken="10.00",
        )  # fmt: skip
        mapped = map_us_document(doc)
        # 10.00 / 3 = 3.333...: the one spare cent of discount goes to the first line.
        assert [line.Amount for line in mapped.lines] == [D("6.66"), D("6.67"), D("6.67")]
        assert "A': 10.00 - discount 3.34 + tax 0.00 = 6.66" in mapped.notes[0]
        assert qbo_total(mapped, US) == D("20.00")

    def test_several_rates_and_discount_with_tax_residue(self) -> None:
        gst, qst = Tax(name="GST", rate=D(5)), Tax(name="QST", rate=D("9.975"))
        lines = [item("A", "1", "33.33", gst, qst), item("B", "1", "33.33", gst, qst)]
        # CRM: 10 % of 66.66 = 6.67; each line taxed on 30.00 (1.50 + 2.99): 8.98; 68.97 + 0.01
        # of the CRM's own rounding. Discount shares 3.34 + 3.33 (tie to the first line); the
        # remaining 8.99 goes by each line's exact tax: 4.49 + 4.50.
        doc = document(
            "USD", lines, total="68.98", tax="8.98",
            discount=Discount(type="percentage", value=D(10)), taken="6.67",
        )  # fmt: skip
        mapped = map_us_document(doc)
        assert [line.Amount for line in mapped.lines] == [D("34.48"), D("34.50")]
        assert qbo_total(mapped, US) == D("68.98")

    def test_inclusive_taxes_are_already_in_the_price(self) -> None:
        vat = Tax(name="VAT", rate=D(20), inclusive=True)
        doc = document("USD", [item("A", "2", "60", vat)], total="120.00", tax="20.00")
        mapped = map_us_document(doc)
        assert [line.Amount for line in mapped.lines] == [D("120.00")]
        assert detail_of(mapped.lines[0]).UnitPrice == D(60)
        assert mapped.notes == []
        assert qbo_total(mapped, US) == D("120.00")

    def test_jpy_amounts_are_whole_yen(self) -> None:
        doc = document(
            "JPY", [item("A", "3", "333", Tax(name="Consumption", rate=D(10)))],
            total="1099", tax="100",
        )  # fmt: skip
        mapped = map_us_document(doc)
        (line,) = mapped.lines
        assert line.Amount == D(1099)
        assert detail_of(line).Qty == D(3)
        assert qbo_total(mapped, company("US", "JPY")) == D(1099)

    def test_quantity_folded_into_the_description_when_no_price_fits(self) -> None:
        # 9876.54 + 10 % = 10864.19 over 987654.321 units needs a price finer than 7 places.
        line = item("Bolts", "987654.321", "0.01", Tax(name="Sales", rate=D(10)), description="M4")
        doc = document("USD", [line], total="10864.19", tax="987.65")
        mapped = map_us_document(doc)
        (sent,) = mapped.lines
        assert sent.Amount == D("10864.19")
        assert (detail_of(sent).Qty, detail_of(sent).UnitPrice) == (D(1), D("10864.19"))
        assert sent.Description == "M4 (987654.321 \u00d7 0.01)"
        assert any("sent as 1 \u00d7 10864.19" in note for note in mapped.notes)
        assert qbo_total(mapped, US) == D("10864.19")

    def test_zero_priced_and_fully_discounted_lines_stay_at_zero(self) -> None:
        doc = document(
            "USD", [item("Free", "2", "0"), item("A", "1", "5.00", Tax(name="S", rate=D(8)))],
            total="0.00", discount=Discount(type="percentage", value=D(100)), taken="5.00",
        )  # fmt: skip
        mapped = map_us_document(doc)
        assert [line.Amount for line in mapped.lines] == [D(0), D(0)]
        assert [detail_of(line).Qty for line in mapped.lines] == [D(2), D(1)]
        assert qbo_total(mapped, US) == D(0)

    def test_missing_item_is_reported(self) -> None:
        doc = document("USD", [item("A", "1", "1.00")], total="1.00")
        doc = DocumentInput(**{**doc.__dict__, "item_ids": {}})
        with pytest.raises(MappingError, match=r"No QuickBooks item .* 'A'"):
            map_us_document(doc)


class TestCheckTotals:
    def test_consistent_document_passes(self) -> None:
        check_totals(document("GBP", [item("A", "3", "9.99", VAT)], total="35.96", tax="5.99"))

    def test_total_that_does_not_add_up(self) -> None:
        doc = document("GBP", [item("A", "3", "9.99", VAT)], total="36.96", tax="5.99")
        with pytest.raises(MappingError, match=r"total 36\.96 does not add up.*correct"):
            check_totals(doc)

    def test_tax_that_does_not_match_the_rates(self) -> None:
        doc = document("GBP", [item("A", "1", "100", VAT)], total="120.00", tax="25.00")
        with pytest.raises(MappingError, match=r"tax 25\.00 does not match"):
            check_totals(doc)

    def test_discount_without_a_discount_or_larger_than_the_lines(self) -> None:
        with pytest.raises(MappingError, match=r"discount 1\.00 does not fit"):
            check_totals(document("USD", [item("A", "1", "10")], total="9.00", taken="1.00"))
        fixed = Discount(type="fixed", value=D(20))
        with pytest.raises(MappingError, match=r"discount 20\.00 does not fit"):
            check_totals(
                document("USD", [item("A", "1", "10")], total="0", discount=fixed, taken="20.00")
            )

    def test_money_finer_than_the_currency(self) -> None:
        with pytest.raises(MappingError, match="more decimals than JPY allows"):
            check_totals(document("JPY", [item("A", "1", "10.5")], total="10.5"))

    def test_negative_quantity_built_by_hand_is_refused(self) -> None:
        bad = LineItem.model_construct(name="A", quantity=D(-1), unit_price=D(5), taxes=[])
        with pytest.raises(MappingError, match="negative quantity"):
            map_us_document(document("USD", [bad], total="0"))


class TestRegional:
    def test_lines_keep_prices_and_get_the_matching_code(self) -> None:
        doc = document(
            "GBP", [item("Widget", "3", "9.99", VAT), item("Tea", "1", "2.50", REDUCED)],
            total="38.59", tax="6.12",
        )  # fmt: skip
        mapped = map_regional_document(doc, GB_CODES)
        assert mapped.global_tax_calculation == "TaxExcluded"
        assert mapped.txn_tax_detail is None
        widget, _ = mapped.lines
        assert (widget.Amount, detail_of(widget).Qty, detail_of(widget).UnitPrice) == (
            D("29.97"), D(3), D("9.99"),
        )  # fmt: skip
        assert [detail_of(line).TaxCodeRef.value for line in mapped.lines] == ["1", "2"]
        assert mapped.notes == []
        assert qbo_total(mapped, GB) == D("38.59")

    def test_percent_discount_line(self) -> None:
        doc = document(
            "GBP", [item("A", "1", "100", VAT)], total="108.00", tax="18.00",
            discount=Discount(type="percentage", value=D(10)), taken="10.00",
        )  # fmt: skip
        mapped = map_regional_document(doc, GB_CODES)
        discount = mapped.lines[-1]
        assert discount.DetailType == "DiscountLineDetail"
        assert discount.DiscountLineDetail is not None
        assert discount.DiscountLineDetail.PercentBased is True
        assert discount.DiscountLineDetail.DiscountPercent == D(10)
        assert discount.Amount == D("10.00")
        assert qbo_total(mapped, GB) == D("108.00")

    def test_fixed_discount_line(self) -> None:
        doc = document(
            "GBP", [item("A", "1", "100", VAT)], total="114.00", tax="19.00",
            discount=Discount(type="fixed", value=D(5)), taken="5.00",
        )  # fmt: skip
        mapped = map_regional_document(doc, GB_CODES)
        discount = mapped.lines[-1]
        assert discount.DiscountLineDetail is not None
        assert discount.DiscountLineDetail.PercentBased is False
        assert discount.Amount == D("5.00")
        assert qbo_total(mapped, GB) == D("114.00")

    def test_percent_that_qbo_would_round_differently_goes_as_its_amount(self) -> None:
        # The CRM rounds its 10 % per line (0.05 + 0.05); QBO would take 10 % of 0.90 = 0.09.
        lines = [item("A", "1", "0.45"), item("B", "1", "0.45")]
        doc = document(
            "GBP", lines, total="0.80", discount=Discount(type="percentage", value=D(10)),
            taken="0.10",
        )  # fmt: skip
        mapped = map_regional_document(doc, GB_CODES)
        discount = mapped.lines[-1].DiscountLineDetail
        assert discount is not None
        assert (discount.PercentBased, mapped.lines[-1].Amount) == (False, D("0.10"))
        assert any("rather than 10 %" in note for note in mapped.notes)
        assert qbo_total(mapped, GB) == D("0.80")

    def test_several_taxes_on_a_line_use_the_combined_code(self) -> None:
        gst, qst = Tax(name="GST", rate=D(5)), Tax(name="QST", rate=D("9.975"))
        codes = [
            CompanyTaxCode("7", "Other 14.975", D("14.975")),
            CompanyTaxCode("9", "GST/QST QC", D("14.975"), (D(5), D("9.975"))),
        ]
        doc = document("CAD", [item("A", "1", "100", gst, qst)], total="114.98", tax="14.98")
        mapped = map_regional_document(doc, codes)
        # Both codes have 14.975 %; the one made of the same two rates wins (QBO rounds per rate).
        assert detail_of(mapped.lines[0]).TaxCodeRef.value == "9"

    def test_inclusive_taxes_set_tax_inclusive(self) -> None:
        vat = Tax(name="VAT", rate=D(20), inclusive=True)
        doc = document("GBP", [item("A", "2", "59.99", vat)], total="119.98", tax="20.00")
        mapped = map_regional_document(doc, GB_CODES)
        assert mapped.global_tax_calculation == "TaxInclusive"
        # QBO's stored form: net Amount (119.98 / 1.2) and UnitPrice, the gross beside them.
        (line,) = mapped.lines
        assert line.Amount == D("99.98")
        assert detail_of(line).UnitPrice == D("49.99")
        assert detail_of(line).TaxInclusiveAmt == D("119.98")

    def test_mixed_inclusive_and_exclusive_is_refused(self) -> None:
        vat = Tax(name="VAT", rate=D(20), inclusive=True)
        lines = [item("A", "1", "12", vat), item("B", "1", "10", REDUCED)]
        doc = document("GBP", lines, total="22.50", tax="2.50")
        with pytest.raises(MappingError, match=r"mixes tax-inclusive .* all exclusive"):
            map_regional_document(doc, GB_CODES)

    def test_no_code_with_the_rate(self) -> None:
        doc = document(
            "GBP", [item("A", "1", "100", Tax(name="City tax", rate=D("7.5")))],
            total="107.50", tax="7.50",
        )  # fmt: skip
        with pytest.raises(MappingError) as raised:
            map_regional_document(doc, GB_CODES)
        assert str(raised.value) == (
            "No QuickBooks tax code has rate 7.5 % (CRM tax 'City tax'); create one in "
            "QuickBooks or change the rate in the CRM"
        )

    def test_no_code_with_the_combined_rate(self) -> None:
        doc = document("GBP", [item("A", "1", "100", VAT, REDUCED)], total="125.00", tax="25.00")
        with pytest.raises(MappingError, match=r"combined rate 25 % .*'VAT' 20 % \+ 'Reduced'"):
            map_regional_document(doc, GB_CODES)

    def test_untaxed_line_gets_the_zero_code_or_fails_without_one(self) -> None:
        doc = document("GBP", [item("A", "1", "10", VAT), item("B", "1", "5")], total="17.00",
                       tax="2.00")  # fmt: skip
        mapped = map_regional_document(doc, GB_CODES)
        assert [detail_of(line).TaxCodeRef.value for line in mapped.lines] == ["1", "3"]
        with pytest.raises(MappingError, match=r"'B' has no tax .* create a 0 % "):
            map_regional_document(doc, GB_CODES[:2])

    def test_untaxed_document_without_a_zero_code_is_not_applicable(self) -> None:
        doc = document("GBP", [item("A", "1", "10")], total="10.00")
        mapped = map_regional_document(doc, GB_CODES[:2])
        assert mapped.global_tax_calculation == "NotApplicable"
        assert detail_of(mapped.lines[0]).TaxCodeRef is None
        assert qbo_total(mapped, GB) == D("10.00")

    def test_jpy(self) -> None:
        jp = company("JP", "JPY", [{"name": "10%", "rate": "10"}, {"name": "0%", "rate": "0"}])
        codes = [CompanyTaxCode("1", "10%", D(10)), CompanyTaxCode("2", "0%", D(0))]
        ctax = Tax(name="Consumption", rate=D(10))
        doc = document("JPY", [item("A", "3", "333", ctax), item("B", "1", "500")], total="1599",
                       tax="100")  # fmt: skip
        mapped = map_regional_document(doc, codes)
        assert [line.Amount for line in mapped.lines] == [D(999), D(500)]
        assert qbo_total(mapped, jp) == D(1599)


class TestRoundingResidue:
    # Per line the CRM taxes 10.37 and 25.21 at 20 % as 2.07 + 5.04, and 5.18 at 5 % as 0.26:
    # 7.37. QBO taxes the 20 % code once: 35.58 x 20 % = 7.12, so it would total 48.14.
    LINES = [item("Books", "1", "10.37", VAT), item("Pens", "1", "25.21", VAT),
             item("Heating", "1", "5.18", REDUCED)]  # fmt: skip

    def test_a_rounding_line_at_the_zero_code(self) -> None:
        mapped = map_regional_document(
            document("GBP", self.LINES, total="48.13", tax="7.37"), GB_CODES
        )
        rounding = mapped.lines[-1]
        assert rounding.Description == "Rounding adjustment"
        assert rounding.Amount == D("-0.01")
        assert detail_of(rounding).TaxCodeRef.value == "3"
        assert detail_of(rounding).ItemRef.value == "11"  # the first line's item
        assert [line.Amount for line in mapped.lines[:3]] == [D("10.37"), D("25.21"), D("5.18")]
        assert any("Rounding line of -0.01" in note for note in mapped.notes)
        assert any("tax 7.38 where the CRM shows 7.37" in note for note in mapped.notes)
        assert qbo_total(mapped, GB) == D("48.13")

    def test_rounding_item_can_be_given(self) -> None:
        doc = document("GBP", self.LINES, total="48.13", tax="7.37")
        doc = DocumentInput(**{**doc.__dict__, "rounding_item_id": "99"})
        mapped = map_regional_document(doc, GB_CODES)
        assert detail_of(mapped.lines[-1]).ItemRef.value == "99"

    def test_without_a_zero_code_one_line_changes(self) -> None:
        mapped = map_regional_document(
            document("GBP", self.LINES, total="48.13", tax="7.37"), GB_CODES[:2]
        )
        assert [line.Amount for line in mapped.lines] == [D("10.37"), D("25.21"), D("5.17")]
        assert any("'Heating': amount changed by -0.01" in note for note in mapped.notes)
        realm = company("GB", "GBP", [{"name": "20", "rate": "20"}, {"name": "5", "rate": "5"}])
        assert qbo_total(mapped, realm) == D("48.13")

    def test_unreachable_total_is_reported(self) -> None:
        # One 13 % code and no 0 % code: QBO totals 0.27 as 0.31 and 0.26 as 0.29, never 0.30.
        lines = [item("A", "1", "0.02", Tax(name="HST", rate=D(13))),
                 item("B", "0.1", "2.45", Tax(name="HST", rate=D(13)))]  # fmt: skip
        doc = document("CAD", lines, total="0.30", tax="0.03")
        with pytest.raises(MappingError, match=r"would total this document 0\.31 .* 0 % tax code"):
            map_regional_document(doc, [CompanyTaxCode("5", "HST ON", D(13))])

    def test_near_full_discount_out_of_reach_is_reported(self) -> None:
        # 98.81 % off: the taxed line keeps 7.39 (tax 0.18) or 7.40 (tax 0.19), the untaxed
        # ones 0.01, so QBO totals 7.58 or 7.60, never the CRM's 7.59.
        lines = [item("A", "2", "0.07"), item("B", "2", "0.21"),
                 item("C", "104.1", "5.97", Tax(name="Tax", rate=D("2.5")))]  # fmt: skip
        doc = document(
            "USD", lines, total="7.59", tax="0.19",
            discount=Discount(type="percentage", value=D("98.81")), taken="614.64",
        )  # fmt: skip
        codes = [CompanyTaxCode("1", "2.5", D("2.5")), CompanyTaxCode("2", "0", D(0))]
        with pytest.raises(MappingError, match="cannot give this total; enter the document"):
            map_regional_document(doc, codes)


class TestCompanyTaxCodes:
    RATES = [
        {"Id": "1", "Name": "VAT 20", "RateValue": 20, "Active": True},
        {"Id": "2", "Name": "GST", "RateValue": "5", "Active": True},
        {"Id": "3", "Name": "QST", "RateValue": 9.975, "Active": True},
        {"Id": "4", "Name": "Old", "RateValue": 7, "Active": False},
        {"Id": "5", "Name": "Zero", "RateValue": 0},
    ]

    @staticmethod
    def code(code_id: str, rate_ids: list[str], **extra: Any) -> dict[str, Any]:
        details = [{"TaxRateRef": {"value": r}, "TaxTypeApplicable": "TaxOnAmount"}
                   for r in rate_ids]  # fmt: skip
        return {"Id": code_id, "Name": f"Code {code_id}", "Active": True,
                "SalesTaxRateList": {"TaxRateDetail": details}, **extra}  # fmt: skip

    def test_reads_rates_and_skips_unusable_codes(self) -> None:
        on_tax = self.code("16", ["2"])
        on_tax["SalesTaxRateList"]["TaxRateDetail"][0]["TaxTypeApplicable"] = "TaxOnTax"
        codes = company_tax_codes(
            [
                self.code("10", ["2", "3"]),
                self.code("2", ["1"]),
                self.code("12", ["1"], Active=False),
                self.code("13", []),  # purchase-only
                {"Id": "14", "Name": "No sales list", "Active": True},
                self.code("15", ["4"]),  # inactive rate
                on_tax,
                self.code("17", ["99"]),  # missing rate
                self.code("18", ["5"]),
            ],
            self.RATES,
        )
        assert [(c.id, c.rate, c.components) for c in codes] == [
            ("2", D(20), (D(20),)),
            ("10", D("14.975"), (D(5), D("9.975"))),
            ("18", D(0), (D(0),)),
        ]

    def test_reads_the_emulators_company(self) -> None:
        codes = company_tax_codes(
            [r.data for r in GB.live("TaxCode")], [r.data for r in GB.live("TaxRate")]
        )
        assert [(c.name, c.rate) for c in codes] == [
            ("20.0% S", D(20)), ("5.0% R", D(5)), ("0.0% Z", D(0)),
        ]  # fmt: skip

    def test_choose_prefers_same_parts_then_name_then_lowest_id(self) -> None:
        codes = [
            CompanyTaxCode("9", "VAT", D(20)),
            CompanyTaxCode("4", "Standard", D(20)),
            CompanyTaxCode("3", "Split", D(20), (D(10), D(10))),
        ]
        assert choose_code([VAT], codes) == codes[0]  # named like the CRM tax
        assert choose_code([Tax(name="Other", rate=D(20))], codes) == codes[1]
        ten = Tax(name="Ten", rate=D(10))
        assert choose_code([ten, ten], codes) == codes[2]
        assert choose_code([Tax(name="X", rate=D(21))], codes) is None
