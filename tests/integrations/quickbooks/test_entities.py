from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.integrations.quickbooks.entities import (
    Account,
    CompanyInfo,
    Customer,
    EmailAddress,
    Item,
    Preferences,
    QboEntity,
    Ref,
    TaxCode,
    TaxRate,
    to_qbo_json,
)
from app.integrations.quickbooks.transactions import (
    DISCOUNT,
    SALES_ITEM,
    DiscountLineDetail,
    Invoice,
    Line,
    LinkedTxn,
    Payment,
    PaymentLine,
    SalesItemLineDetail,
    SalesReceipt,
)
from app.integrations.quickbooks.transport import decode_json, encode_json

# The emulator's copies of ../shared/reference/qbo-samples (verbatim; guarded against drift
# by tests/emulator). Fall back to the reference directory when they are absent.
LOCAL_SAMPLES = Path(__file__).resolve().parents[2] / "emulator" / "samples"
REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "qbo-samples"
SAMPLES = LOCAL_SAMPLES if LOCAL_SAMPLES.is_dir() else REFERENCE
ENTITY_CLASSES: list[type[QboEntity]] = [
    Customer,
    Item,
    Account,
    TaxCode,
    TaxRate,
    Invoice,
    SalesReceipt,
    Payment,
    CompanyInfo,
    Preferences,
]


def sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} is not available")
    return decode_json(path.read_text())


class TestSamples:
    def test_customer_read(self) -> None:
        customer = Customer.model_validate(sample("customer-read-response.json")["Customer"])
        assert (customer.Id, customer.SyncToken) == ("2", "0")
        assert customer.DisplayName == "Bill's Windsurf Shop"
        assert customer.PrimaryEmailAddr == EmailAddress(Address="Surf@Intuit.com")
        assert customer.Balance == Decimal("85.0")
        assert customer.BillAddr is not None
        assert customer.BillAddr.City == "Half Moon Bay"
        assert customer.MetaData is not None
        assert customer.MetaData.CreateTime is not None
        assert customer.MetaData.CreateTime.utcoffset() is not None

    def test_customer_query_rows(self) -> None:
        rows = sample("customer-query-response.json")["QueryResponse"]["Customer"]
        customers = [Customer.model_validate(row) for row in rows]
        assert [c.Id for c in customers] == ["1", "29"]
        assert customers[0].BalanceWithJobs == Decimal("274.0")

    def test_invoice_with_tax(self) -> None:
        invoice = Invoice.model_validate(sample("invoice-read-response-with-tax.json")["Invoice"])
        assert invoice.TotalAmt == Decimal("362.07")
        assert invoice.TxnDate == date(2014, 9, 19)
        assert invoice.Line is not None
        assert [line.DetailType for line in invoice.Line] == [SALES_ITEM] * 3 + [
            "SubTotalLineDetail"
        ]
        detail = invoice.Line[1].SalesItemLineDetail
        assert detail is not None
        assert detail.UnitPrice == Decimal("12.75")
        tax = invoice.TxnTaxDetail
        assert tax is not None
        assert tax.TotalTax == Decimal("26.82")
        assert tax.TaxLine
        assert tax.TaxLine[0].TaxLineDetail is not None
        assert tax.TaxLine[0].TaxLineDetail.NetAmountTaxable == Decimal("335.25")
        assert invoice.LinkedTxn == [LinkedTxn(TxnId="100", TxnType="Estimate")]
        assert invoice.CustomerMemo is not None

    def test_sales_receipt_in_batch_sample(self) -> None:
        items = sample("batch-response-with-faults.json")["BatchItemResponse"]
        row = items[3]["QueryResponse"]["SalesReceipt"][0]
        receipt = SalesReceipt.model_validate(row)
        assert (receipt.TotalAmt, receipt.PaymentRefNum) == (Decimal("337.5"), "10264")
        assert receipt.Line is not None
        assert receipt.Line[0].SalesItemLineDetail is not None
        assert receipt.Line[0].SalesItemLineDetail.Qty == Decimal("4.5")

    def test_cdc_rows_parse_including_deleted(self) -> None:
        rows = sample("cdc-response.json")["CDCResponse"][0]["QueryResponse"]
        for row in rows[0]["Customer"]:
            assert Customer.model_validate(row).Id in {"63", "99"}
        deleted = Invoice.model_validate(rows[1]["Estimate"][2])
        assert deleted.Id == "979"
        assert deleted.model_extra == {"status": "Deleted", "domain": "QBO"}

    def test_samples_keep_every_unknown_field(self) -> None:
        raw = sample("invoice-read-response-with-tax.json")["Invoice"]
        invoice = Invoice.model_validate(raw)
        out = json.loads(encode_json(to_qbo_json(invoice, sparse=True)))
        raw_plain = json.loads(encode_json(raw))
        # Everything comes back, with "sparse" switched on; times may be re-spelled but equal.
        assert out.pop("sparse") is True
        raw_plain.pop("sparse")
        out.pop("MetaData")
        raw_plain.pop("MetaData")
        assert out == raw_plain


class TestModels:
    @pytest.mark.parametrize("cls", ENTITY_CLASSES)
    def test_every_entity_has_a_name_id_and_sync_token(self, cls: type[QboEntity]) -> None:
        assert cls.entity_name == cls.__name__
        obj = cls(Id="1", SyncToken="0")
        assert (obj.Id, obj.SyncToken) == ("1", "0")

    def test_float_money_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="never float"):
            Line(Amount=0.1)
        with pytest.raises(ValidationError, match="never float"):
            SalesItemLineDetail(Qty=1.5)

    def test_money_accepts_decimal_int_and_text(self) -> None:
        detail = SalesItemLineDetail(Qty=5, UnitPrice="9.50")
        assert (detail.Qty, detail.UnitPrice) == (Decimal(5), Decimal("9.50"))

    def test_company_info_and_preferences(self) -> None:
        info = CompanyInfo.model_validate(
            {
                "CompanyName": "Larry's Bakery",
                "Country": "US",
                "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
            }
        )
        assert info.name_value("OfferingSku") == "QuickBooks Online Plus"
        assert info.name_value("Missing") is None
        prefs = Preferences.model_validate(
            {
                "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
                "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
                "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowDiscount": True},
                "AccountingInfoPrefs": {"BookCloseDate": "2024-12-31"},
                "OtherPrefs": {"NameValue": []},
            }
        )
        assert prefs.TaxPrefs is not None
        assert prefs.TaxPrefs.PartnerTaxEnabled is True
        assert prefs.CurrencyPrefs is not None
        assert prefs.CurrencyPrefs.HomeCurrency == Ref(value="USD")
        assert prefs.AccountingInfoPrefs is not None
        assert prefs.AccountingInfoPrefs.BookCloseDate == date(2024, 12, 31)
        assert prefs.model_extra == {"OtherPrefs": {"NameValue": []}}

    def test_tax_code_and_rate(self) -> None:
        code = TaxCode.model_validate(
            {
                "Name": "VAT 20%",
                "SalesTaxRateList": {
                    "TaxRateDetail": [{"TaxRateRef": {"value": "3"}, "TaxOrder": 0}]
                },
            }
        )
        assert code.SalesTaxRateList is not None
        assert code.SalesTaxRateList.TaxRateDetail
        rate = TaxRate.model_validate({"Name": "VAT", "RateValue": Decimal("20")})
        assert rate.RateValue == Decimal(20)


class TestToQboJson:
    def test_create_drops_none_and_keeps_extras(self) -> None:
        customer = Customer(DisplayName="Ann", PrimaryEmailAddr=EmailAddress(Address="a@b.co"))
        customer.Notes = None
        customer.CustomField = [{"DefinitionId": "1"}]  # type: ignore[attr-defined]
        assert to_qbo_json(customer, sparse=False) == {
            "DisplayName": "Ann",
            "PrimaryEmailAddr": {"Address": "a@b.co"},
            "CustomField": [{"DefinitionId": "1"}],
        }

    def test_sparse_sends_only_what_was_set(self) -> None:
        update = Customer(Id="2", SyncToken="0", MiddleName="Mark")
        assert to_qbo_json(update, sparse=True) == {
            "Id": "2",
            "SyncToken": "0",
            "MiddleName": "Mark",
            "sparse": True,
        }

    def test_sparse_after_read_sends_back_unknown_fields_untouched(self) -> None:
        customer = Customer.model_validate(
            {
                "Id": "2",
                "SyncToken": "3",
                "DisplayName": "Old",
                "domain": "QBO",
                "sparse": False,
                "Future": {"Nested": Decimal("1.10")},
                "BillAddr": {"Line1": "1 Road", "Lat": "INVALID"},
            }
        )
        customer.DisplayName = "New"
        body = to_qbo_json(customer, sparse=True)
        assert body == {
            "Id": "2",
            "SyncToken": "3",
            "DisplayName": "New",
            "domain": "QBO",
            "Future": {"Nested": Decimal("1.10")},
            "BillAddr": {"Line1": "1 Road", "Lat": "INVALID"},
            "sparse": True,
        }

    def test_invoice_lines(self) -> None:
        invoice = Invoice(
            CustomerRef=Ref(value="24"),
            Line=[
                Line(
                    DetailType=SALES_ITEM,
                    Amount=Decimal("1861.08"),
                    SalesItemLineDetail=SalesItemLineDetail(
                        ItemRef=Ref(value="3"), Qty=Decimal("128.35"), UnitPrice=Decimal("14.50")
                    ),
                ),
                Line(
                    DetailType=DISCOUNT,
                    Amount=Decimal("0.1"),
                    DiscountLineDetail=DiscountLineDetail(PercentBased=False),
                ),
            ],
        )
        assert json.loads(encode_json(to_qbo_json(invoice, sparse=False)), parse_float=str) == {
            "CustomerRef": {"value": "24"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "1861.08",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": "3"},
                        "Qty": "128.35",
                        "UnitPrice": "14.50",
                    },
                },
                {
                    "DetailType": "DiscountLineDetail",
                    "Amount": "0.1",
                    "DiscountLineDetail": {"PercentBased": False},
                },
            ],
        }

    def test_payment_lines_link_invoices(self) -> None:
        payment = Payment(
            TotalAmt=Decimal(25),
            CustomerRef=Ref(value="20"),
            Line=[
                PaymentLine(
                    Amount=Decimal(25), LinkedTxn=[LinkedTxn(TxnId="67", TxnType="Invoice")]
                )
            ],
        )
        assert to_qbo_json(payment, sparse=False)["Line"] == [
            {"Amount": Decimal(25), "LinkedTxn": [{"TxnId": "67", "TxnType": "Invoice"}]}
        ]


class TestJsonCodec:
    @pytest.mark.parametrize("text", ["0.1", "1861.08", "0.10", "275.0", "-3.5", "1861.075"])
    def test_decimals_round_trip_exactly(self, text: str) -> None:
        encoded = encode_json({"Amount": Decimal(text)})
        assert encoded == f'{{"Amount":{text}}}'.encode()
        assert decode_json(encoded) == {"Amount": Decimal(text)}

    def test_exponent_decimals_go_out_in_fixed_point(self) -> None:
        assert encode_json([Decimal("1E+2"), Decimal("1E-7")]) == b"[100,0.0000001]"

    def test_non_numbers_encode_as_json(self) -> None:
        value = {"a": [True, None, 3, 'x"y\u00e9'], "d": date(2024, 1, 2)}
        assert json.loads(encode_json(value)) == {"a": [True, None, 3, 'x"yé'], "d": "2024-01-02"}

    @pytest.mark.parametrize("bad", [0.1, Decimal("NaN"), Decimal("Infinity"), object()])
    def test_floats_and_non_finite_numbers_are_refused(self, bad: object) -> None:
        with pytest.raises((TypeError, ValueError)):
            encode_json({"x": bad})

    def test_decode_reads_non_integers_as_decimal(self) -> None:
        assert decode_json('{"a": 0.1, "b": 2}') == {"a": Decimal("0.1"), "b": 2}
