"""Money semantics: rounding, 6070, discounts, US AST and non-US tax, balances, void/delete."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbo_emulator import money
from qbo_emulator.faults import QBOFault

from .conftest import QBO
from .test_emu_entities import fault_code


def line(
    amount: Any = None,
    qty: Any = None,
    price: Any = None,
    tax: str | None = None,
    gross: Any = None,
) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if gross is not None:
        detail["TaxInclusiveAmt"] = gross
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    if tax is not None:
        detail["TaxCodeRef"] = {"value": tax}
    out: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    if amount is not None:
        out["Amount"] = amount
    return out


def discount(amount: Any = None, percent: Any = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"PercentBased": percent is not None}
    if percent is not None:
        detail["DiscountPercent"] = percent
    out: dict[str, Any] = {"DetailType": "DiscountLineDetail", "DiscountLineDetail": detail}
    if amount is not None:
        out["Amount"] = amount
    return out


US = money.TaxContext(
    currency="USD", us=True, us_rate=Decimal("8.25"), us_code_id="1", us_rate_id="1"
)


class TestPureMoney:
    def test_round_half_up_at_minor_unit(self) -> None:
        assert money.round_money(Decimal("1861.075"), "USD") == Decimal("1861.08")
        assert money.round_money(Decimal("0.005"), "USD") == Decimal("0.01")
        assert money.round_money(Decimal("2.5"), "JPY") == Decimal("3")
        assert money.round_money(Decimal("1.0005"), "KWD") == Decimal("1.001")

    def test_amount_checked_after_rounding(self) -> None:
        ok = money.compute([line(Decimal("1861.08"), Decimal("128.35"), Decimal("14.50"))], US, {})
        assert ok.subtotal == Decimal("1861.08")
        with pytest.raises(QBOFault) as info:
            money.compute([line(Decimal("1861.07"), Decimal("128.35"), Decimal("14.50"))], US, {})
        assert info.value.code == "6070"

    def test_amount_filled_from_qty_and_price(self) -> None:
        totals = money.compute([line(None, 3, Decimal("9.99"))], US, {})
        assert totals.lines[0]["Amount"] == Decimal("29.97")

    def test_us_tax_only_on_taxable_lines(self) -> None:
        totals = money.compute([line(100, tax="TAX"), line(50, tax="NON")], US, {})
        assert totals.tax == Decimal("8.25")
        assert totals.total == Decimal("158.25")

    def test_us_total_tax_override_is_honoured(self) -> None:
        totals = money.compute([line(100, tax="TAX")], US, {"tax_override": Decimal("7.00")})
        assert totals.tax == Decimal("7.00")
        assert totals.total == Decimal("107.00")
        assert totals.tax_detail["TaxLine"][0]["Amount"] == Decimal("7.00")

    def test_percent_discount_and_tax_after_discount(self) -> None:
        lines = [line(200, tax="TAX"), discount(percent=10)]
        before = money.compute(lines, US, {})
        assert before.discount == Decimal("20.00")
        assert before.tax == Decimal("16.50")
        assert before.total == Decimal("196.50")
        after = money.compute(
            [line(200, tax="TAX"), discount(percent=10)], US, {"apply_tax_after_discount": True}
        )
        assert after.tax == Decimal("14.85")
        assert after.total == Decimal("194.85")

    def test_amount_discount(self) -> None:
        totals = money.compute([line(50), discount(amount=Decimal("10.00"))], US, {})
        assert totals.total == Decimal("40.00")
        assert [ln["DetailType"] for ln in totals.lines][-2:] == [
            "SubTotalLineDetail",
            "DiscountLineDetail",
        ]

    def gb(self) -> money.TaxContext:
        codes = {
            "1": money.TaxCodeInfo("1", (("1", Decimal(20)),)),
            "2": money.TaxCodeInfo("2", (("2", Decimal(0)),)),
        }
        return money.TaxContext(currency="GBP", us=False, codes=codes)

    def test_non_us_tax_excluded(self) -> None:
        totals = money.compute(
            [line(100, tax="1"), line(30, tax="2")], self.gb(), {"global_calc": "TaxExcluded"}
        )
        assert totals.tax == Decimal("20.00")
        assert totals.total == Decimal("150.00")

    def test_non_us_tax_inclusive_stored_net_with_gross(self) -> None:
        # QBO's stored form (tests/conformance/samples/au-tax-inclusive-invoices.json): Amount
        # net, TaxInclusiveAmt gross, tax = gross - net, TotalAmt = sum of grosses.
        totals = money.compute(
            [line(100, tax="1", gross=120), line(30, tax="2", gross=30)],
            self.gb(),
            {"global_calc": "TaxInclusive"},
        )
        assert (totals.subtotal, totals.tax, totals.total) == (
            Decimal(130),
            Decimal(20),
            Decimal(150),
        )
        details = [t["TaxLineDetail"] for t in totals.tax_detail["TaxLine"]]
        assert [d["NetAmountTaxable"] for d in details] == [100, 30]
        assert "TxnTaxCodeRef" not in totals.tax_detail

    def test_non_us_tax_inclusive_gross_only_is_backed_out_per_line(self) -> None:
        # Synthetic input: gross and Qty only; net = round_half_up(gross / 1.2), UnitPrice 7 dp.
        sent = line(tax="1", qty=3, gross=Decimal("100.01"))
        totals = money.compute([sent], self.gb(), {"global_calc": "TaxInclusive"})
        assert sent["Amount"] == Decimal("83.34")
        assert sent["SalesItemLineDetail"]["UnitPrice"] == Decimal("27.78")
        assert totals.tax == Decimal("16.67")
        assert totals.total == Decimal("100.01")

    def test_non_us_tax_inclusive_without_gross_takes_amount_as_net(self) -> None:
        # ruckus/quickbooks-ruby issue #346 (third-party report; UNKNOWN, verify-qbo check
        # "tax-inclusive input without TaxInclusiveAmt").
        sent = line(120, tax="1")
        totals = money.compute([sent], self.gb(), {"global_calc": "TaxInclusive"})
        assert sent["SalesItemLineDetail"]["TaxInclusiveAmt"] == Decimal("144.00")
        assert (totals.tax, totals.total) == (Decimal("24.00"), Decimal("144.00"))

    def test_non_us_tax_inclusive_keeps_disagreeing_amount(self) -> None:
        totals = money.compute(
            [line(99, tax="1", gross=120)], self.gb(), {"global_calc": "TaxInclusive"}
        )
        assert (totals.subtotal, totals.tax, totals.total) == (
            Decimal(99),
            Decimal(21),
            Decimal(120),
        )

    def test_non_us_tax_inclusive_6070_checks_the_net(self) -> None:
        with pytest.raises(QBOFault) as info:
            money.compute(
                [line(100, qty=2, price=60, tax="1", gross=120)],
                self.gb(),
                {"global_calc": "TaxInclusive"},
            )
        assert info.value.code == "6070"

    def test_non_us_not_applicable_has_no_tax(self) -> None:
        totals = money.compute([line(100)], self.gb(), {"global_calc": "NotApplicable"})
        assert totals.tax == 0
        assert totals.total == Decimal("100")

    def test_non_us_line_without_tax_code_rejected(self) -> None:
        with pytest.raises(QBOFault) as info:
            money.compute([line(100)], self.gb(), {"global_calc": "TaxExcluded"})
        assert info.value.code == "6000"


async def invoice(qbo: QBO, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": lines, **extra})


@pytest.fixture
async def customer(qbo: QBO) -> dict[str, Any]:
    return await qbo.create("Customer", {"DisplayName": "Payer"})


class TestUsInvoices:
    async def test_6070_over_http(self, qbo: QBO, customer: Any) -> None:
        response = await qbo.post(
            "/invoice", {"CustomerRef": {"value": "1"}, "Line": [line(10, 3, 3)]}
        )
        assert fault_code(response) == "6070"

    async def test_tax_override_sent_in_txn_tax_detail(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100, tax="TAX")], TxnTaxDetail={"TotalTax": 5})
        assert inv["TxnTaxDetail"]["TotalTax"] == 5
        assert inv["TotalAmt"] == 105

    async def test_sparse_line_change_recomputes_tax(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100, tax="TAX")])
        response = await qbo.post(
            "/invoice",
            {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "Line": [line(200, tax="TAX")]},
        )
        assert response.json()["Invoice"]["TotalAmt"] == 216.5

    async def test_doc_numbers_auto_and_duplicate(self, qbo: QBO, customer: Any) -> None:
        first = await invoice(qbo, [line(1)])
        second = await invoice(qbo, [line(1)])
        assert int(second["DocNumber"]) == int(first["DocNumber"]) + 1
        dup = await qbo.post(
            "/invoice",
            {"CustomerRef": {"value": "1"}, "Line": [line(1)], "DocNumber": first["DocNumber"]},
        )
        assert fault_code(dup) == "6140"
        assert f"TxnId={first['Id']}" in dup.json()["Fault"]["Error"][0]["Detail"]


class TestNonUsInvoices:
    async def test_uk_invoice_requires_tax_code_per_line(self, uk: QBO) -> None:
        await uk.create("Customer", {"DisplayName": "UK buyer"})
        codes = (await uk.query("select * from TaxCode")).json()["QueryResponse"]["TaxCode"]
        standard = next(c["Id"] for c in codes if c["Name"] == "20.0% S")
        body = {"CustomerRef": {"value": "1"}, "GlobalTaxCalculation": "TaxExcluded"}
        missing = await uk.post("/invoice", {**body, "Line": [line(100)]})
        assert fault_code(missing) == "6000"
        inv = await uk.create("Invoice", {**body, "Line": [line(100, tax=standard)]})
        assert inv["TotalAmt"] == 120
        assert inv["CurrencyRef"]["value"] == "GBP"
        inclusive = await uk.create(
            "Invoice",
            {
                **body,
                "GlobalTaxCalculation": "TaxInclusive",
                "Line": [line(100, tax=standard, gross=120)],
            },
        )
        assert inclusive["TotalAmt"] == 120
        assert inclusive["TxnTaxDetail"]["TotalTax"] == 20
        assert inclusive["Line"][0]["Amount"] == 100


class TestPaymentsAndLifecycle:
    async def pay(self, qbo: QBO, invoice_id: str, amount: Any, total: Any = None) -> Any:
        body = {
            "TotalAmt": total if total is not None else amount,
            "CustomerRef": {"value": "1"},
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}
            ],
        }
        return await qbo.post("/payment", body)

    async def test_payment_reduces_balance_and_links(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100)])
        payment = (await self.pay(qbo, inv["Id"], 40, total=50)).json()["Payment"]
        assert payment["UnappliedAmt"] == 10
        after = await qbo.read("Invoice", inv["Id"])
        assert after["Balance"] == 60
        assert after["SyncToken"] == "1"
        assert {"TxnId": payment["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
        assert (await qbo.read("Customer", "1"))["Balance"] == 60

    async def test_overpaying_an_invoice_is_rejected(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100)])
        assert (await self.pay(qbo, inv["Id"], 150)).status_code == 400
        assert (await self.pay(qbo, "999", 1)).status_code == 400

    async def test_void_and_delete_payment_restore_balance(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100)])
        first = (await self.pay(qbo, inv["Id"], 30)).json()["Payment"]
        second = (await self.pay(qbo, inv["Id"], 20)).json()["Payment"]
        voided = await qbo.post(
            "/payment",
            {"Id": first["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        )
        assert voided.json()["Payment"]["TotalAmt"] == 0
        assert (await qbo.read("Invoice", inv["Id"]))["Balance"] == 80
        await qbo.post("/payment", {"Id": second["Id"], "SyncToken": "0"}, operation="delete")
        restored = await qbo.read("Invoice", inv["Id"])
        assert restored["Balance"] == 100
        assert "LinkedTxn" not in restored

    async def test_invoice_void_zeroes_amounts(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(100, 2, 50, tax="TAX")], PrivateNote="note")
        response = await qbo.post("/invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="void")
        voided = response.json()["Invoice"]
        assert voided["TotalAmt"] == 0
        assert voided["Balance"] == 0
        assert voided["SyncToken"] == "1"
        assert voided["Line"][0]["Amount"] == 0
        assert voided["Line"][0]["SalesItemLineDetail"]["Qty"] == 0
        assert voided["TxnTaxDetail"]["TotalTax"] == 0
        assert voided["PrivateNote"].startswith("Voided")
        assert (await qbo.read("Customer", "1"))["Balance"] == 0

    async def test_invoice_with_payment_cannot_be_deleted_and_delete_twice_is_610(
        self, qbo: QBO, customer: Any
    ) -> None:
        inv = await invoice(qbo, [line(100)])
        payment = (await self.pay(qbo, inv["Id"], 10)).json()["Payment"]
        linked = await qbo.post("/invoice", {"Id": inv["Id"], "SyncToken": "1"}, operation="delete")
        assert fault_code(linked) == "6000"
        await qbo.post("/payment", {"Id": payment["Id"], "SyncToken": "0"}, operation="delete")
        deleted = await qbo.post(
            "/invoice", {"Id": inv["Id"], "SyncToken": "2"}, operation="delete"
        )
        assert deleted.json()["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": inv["Id"]}
        again = await qbo.post("/invoice", {"Id": inv["Id"], "SyncToken": "2"}, operation="delete")
        assert fault_code(again) == "610"
        assert fault_code(await qbo.get(f"/invoice/{inv['Id']}")) == "610"

    async def test_sales_receipt_void_via_update_include_void(
        self, qbo: QBO, customer: Any
    ) -> None:
        receipt = await qbo.create(
            "SalesReceipt", {"CustomerRef": {"value": "1"}, "Line": [line(25)]}
        )
        assert receipt["Balance"] == 0
        assert receipt["DepositToAccountRef"]["name"] == "Undeposited Funds"
        response = await qbo.post(
            "/salesreceipt",
            {"Id": receipt["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        )
        assert response.json()["SalesReceipt"]["TotalAmt"] == 0


class TestCurrencyAndSend:
    async def test_multicurrency_transactions(self, http: Any, emu: Any) -> None:
        from .conftest import new_company

        qbo = await new_company(http, emu, country="US", multicurrency=True, sales_tax_rate="0")
        customer = await qbo.create(
            "Customer", {"DisplayName": "Euro", "CurrencyRef": {"value": "EUR"}}
        )
        body = {"CustomerRef": {"value": customer["Id"]}, "Line": [line(100)]}
        wrong = await qbo.post("/invoice", body)
        assert fault_code(wrong) == "6000"
        inv = await qbo.create(
            "Invoice", {**body, "CurrencyRef": {"value": "EUR"}, "ExchangeRate": 1.1}
        )
        assert inv["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
        assert inv["HomeTotalAmt"] == 110
        change = {
            "Id": customer["Id"],
            "SyncToken": "0",
            "sparse": True,
            "CurrencyRef": {"value": "USD"},
        }
        assert fault_code(await qbo.post("/customer", change)) == "6000"

    async def test_single_currency_company_rejects_foreign_currency(
        self, qbo: QBO, customer: Any
    ) -> None:
        body = {"CustomerRef": {"value": "1"}, "Line": [line(1)], "CurrencyRef": {"value": "EUR"}}
        assert fault_code(await qbo.post("/invoice", body)) == "6000"

    async def test_send_invoice(self, qbo: QBO, customer: Any) -> None:
        inv = await invoice(qbo, [line(10)])
        no_email = await qbo.http.post(
            f"{qbo.base}/invoice/{inv['Id']}/send", headers=qbo.headers()
        )
        assert fault_code(no_email) == "6000"
        sent = await qbo.http.post(
            f"{qbo.base}/invoice/{inv['Id']}/send",
            params={"sendTo": "a@b.com"},
            headers=qbo.headers(),
        )
        data = sent.json()["Invoice"]
        assert data["EmailStatus"] == "EmailSent"
        assert data["BillEmail"] == {"Address": "a@b.com"}
        assert data["DeliveryInfo"]["DeliveryType"] == "Email"
        pdf = await qbo.http.get(f"{qbo.base}/invoice/{inv['Id']}/pdf", headers=qbo.headers())
        assert pdf.content.startswith(b"%PDF")


money_values = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)
quantities = st.integers(min_value=1, max_value=50)


@given(
    st.lists(st.tuples(quantities, money_values, st.booleans()), min_size=1, max_size=8),
    st.decimals(min_value=0, max_value=100, places=2),
)
def test_us_totals_add_up(lines: list[tuple[int, Decimal, bool]], percent: Decimal) -> None:
    body = [line(None, qty, price, "TAX" if taxable else "NON") for qty, price, taxable in lines]
    totals = money.compute([*body, discount(percent=percent)], US, {})
    amounts = [ln["Amount"] for ln in totals.lines if ln["DetailType"] == "SalesItemLineDetail"]
    assert all(a == a.quantize(Decimal("0.01")) for a in amounts)
    assert totals.subtotal == sum(amounts, Decimal(0))
    assert totals.total == totals.subtotal - totals.discount + totals.tax
    taxable = sum((a for a, (_, _, t) in zip(amounts, lines, strict=True) if t), Decimal(0))
    assert totals.tax == money.round_money(taxable * Decimal("8.25") / 100, "USD")
