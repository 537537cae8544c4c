"""The service's tax-inclusive money rules against REAL QBO data, not against the emulator.

samples/au-tax-inclusive-invoices.json holds 49 invoices of a real Australian company (GST 10 %,
GlobalTaxCalculation TaxInclusive) exactly as QBO returned them (source in its .src.txt). For
each, the service's rules (`app.sync.mapping.inclusive`) get only what a CRM would give: each
line's gross (TaxInclusiveAmt), its Qty and its tax code's rate; and must reproduce, to the
cent, what QBO stored: each line's net Amount and UnitPrice, the subtotal line, TotalTax, the
tax line's NetAmountTaxable and TotalAmt. Then the whole mapping (`map_regional_document`)
builds each invoice from CRM-style lines and must send exactly QBO's stored lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.integrations.crm.schemas import LineItem, Tax
from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.sync.mapping.documents import DocumentInput, map_regional_document
from app.sync.mapping.guard import predicted_total
from app.sync.mapping.inclusive import back_out, net_unit_price, predict_inclusive
from app.sync.mapping.regional import predict

SAMPLES = Path(__file__).parent / "samples" / "au-tax-inclusive-invoices.json"
INVOICES: list[dict[str, Any]] = json.loads(SAMPLES.read_text(), parse_float=Decimal)["Invoice"]
CURRENCY = "AUD"


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass(frozen=True)
class Stored:
    """One stored invoice, reduced to the figures the rules are checked on."""

    doc_id: str
    lines: list[dict[str, Any]]  # SalesItemLineDetail lines, in order
    code_rates: dict[str, Decimal]  # TaxCodeRef -> percent (from the invoice's tax line)
    subtotal: Decimal
    total_tax: Decimal
    total: Decimal
    taxable: Decimal

    @classmethod
    def of(cls, invoice: dict[str, Any]) -> Stored:
        lines = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        (subtotal,) = [
            line for line in invoice["Line"] if line["DetailType"] == "SubTotalLineDetail"
        ]
        (tax_line,) = invoice["TxnTaxDetail"]["TaxLine"]
        codes = {line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in lines}
        # One tax line, so every code on the invoice has its rate (GST 10 % here).
        rate = dec(tax_line["TaxLineDetail"]["TaxPercent"])
        return cls(
            doc_id=invoice["Id"],
            lines=lines,
            code_rates=dict.fromkeys(codes, rate),
            subtotal=dec(subtotal["Amount"]),
            total_tax=dec(invoice["TxnTaxDetail"]["TotalTax"]),
            total=dec(invoice["TotalAmt"]),
            taxable=dec(tax_line["TaxLineDetail"]["NetAmountTaxable"]),
        )

    def column(self, key: str) -> list[Decimal]:
        return [dec(line["SalesItemLineDetail"][key]) for line in self.lines]

    def codes(self) -> list[str]:
        return [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in self.lines]


STORED = [Stored.of(invoice) for invoice in INVOICES]
IDS = [stored.doc_id for stored in STORED]


def test_the_sample_is_the_real_data_described() -> None:
    assert len(STORED) == 49
    assert {invoice["GlobalTaxCalculation"] for invoice in INVOICES} == {"TaxInclusive"}
    assert sum(len(stored.lines) for stored in STORED) == 114


@pytest.mark.parametrize("stored", STORED, ids=IDS)
def test_totals_predicted_from_gross_qty_and_rate(stored: Stored) -> None:
    grosses, codes = stored.column("TaxInclusiveAmt"), stored.codes()
    rates = [stored.code_rates[code] for code in codes]
    predicted = predict_inclusive(grosses, rates, codes, CURRENCY)
    assert predicted.nets == [dec(line["Amount"]) for line in stored.lines]
    assert predicted.subtotal == stored.subtotal
    assert predicted.tax == stored.total_tax
    assert predicted.total == stored.total
    assert sum(predicted.taxable.values()) == stored.taxable


@pytest.mark.parametrize("stored", STORED, ids=IDS)
def test_unit_price_is_net_over_qty_at_seven_places(stored: Stored) -> None:
    for line, qty, price in zip(
        stored.lines, stored.column("Qty"), stored.column("UnitPrice"), strict=True
    ):
        assert net_unit_price(dec(line["Amount"]), qty, CURRENCY) == price


def test_the_net_is_backed_out_of_the_gross_not_the_gross_built_from_the_net() -> None:
    # Real line (invoice 2508): gross 87.50 at 10 % is stored as net 79.55, and 79.55 x 1.1
    # would round to 87.51: QBO starts from the gross. The rules must say the same.
    assert back_out(Decimal("87.50"), Decimal(10), CURRENCY) == Decimal("79.55")
    rebuilt = sum(
        1
        for stored in STORED
        for net, gross in zip(
            [dec(line["Amount"]) for line in stored.lines],
            stored.column("TaxInclusiveAmt"),
            strict=True,
        )
        if (net * Decimal("1.1")).quantize(Decimal("0.01"), "ROUND_HALF_UP") != gross
    )
    assert rebuilt == 5


def test_tax_backed_out_of_the_total_would_be_wrong() -> None:
    """The per-line rule is not a rewording of a per-document one: they differ on real data."""
    differ = [
        stored.doc_id
        for stored in STORED
        if stored.total - back_out(stored.total, Decimal(10), CURRENCY) != stored.total_tax
    ]
    assert len(differ) == 5


# --- the whole mapping, from CRM-style lines ---------------------------------------------------


def _crm_line(number: int, gross: Decimal, qty: Decimal, rate: Decimal) -> LineItem:
    # A CRM line as a shop would send it: Qty and a tax-inclusive unit price (the CRM keeps 6
    # places) whose product rounds to the gross.
    price = (gross / qty).quantize(Decimal("0.000001"), "ROUND_HALF_UP")
    assert (price * qty).quantize(Decimal("0.01"), "ROUND_HALF_UP") == gross
    gst = Tax(name="GST", rate=rate, inclusive=True)
    return LineItem(name=f"Item {number}", quantity=qty, unit_price=price, taxes=[gst])


@pytest.mark.parametrize("stored", STORED, ids=IDS)
def test_the_mapping_sends_the_lines_qbo_stored(stored: Stored) -> None:
    # Zero-quantity lines of zero (2 on one invoice) are not CRM lines: a CRM line has Qty > 0.
    kept = [i for i, qty in enumerate(stored.column("Qty")) if qty > 0]
    grosses = [stored.column("TaxInclusiveAmt")[i] for i in kept]
    rates = [stored.code_rates[stored.codes()[i]] for i in kept]
    qtys = [stored.column("Qty")[i] for i in kept]
    lines = [
        _crm_line(n, g, q, r) for n, (g, q, r) in enumerate(zip(grosses, qtys, rates, strict=True))
    ]
    doc = DocumentInput(
        currency=CURRENCY,
        lines=lines,
        discount=None,
        totals_total=stored.total,
        totals_tax=stored.total_tax,
        totals_discount=Decimal(0),
        item_ids={line.name: str(n) for n, line in enumerate(lines, start=1)},
    )
    codes = [CompanyTaxCode(code, "GST", rate) for code, rate in stored.code_rates.items()]
    mapped = map_regional_document(doc, codes)
    assert mapped.global_tax_calculation == "TaxInclusive"
    sent = [
        (line.Amount, d.UnitPrice, d.Qty, d.TaxInclusiveAmt)
        for line in mapped.lines
        if (d := line.SalesItemLineDetail) is not None
    ]
    real = [
        (
            dec(stored.lines[i]["Amount"]),
            stored.column("UnitPrice")[i],
            qtys[k],
            grosses[k],
        )
        for k, i in enumerate(kept)
    ]
    assert sent == real
    by_id = {code.id: code for code in codes}
    assert predicted_total(mapped.lines, None, "TaxInclusive", by_id, CURRENCY) == stored.total


# --- an Australian sandbox company: tax-exclusive at 0/10/12/15 % and tax-inclusive ------------

SANDBOX = Path(__file__).parent / "samples" / "au-sandbox-invoices.json"
SANDBOX_INVOICES: list[dict[str, Any]] = json.loads(SANDBOX.read_text(), parse_float=Decimal)[
    "Invoice"
]


@pytest.mark.parametrize("invoice", SANDBOX_INVOICES, ids=[i["Id"] for i in SANDBOX_INVOICES])
def test_sandbox_invoice_totals_predicted_from_its_lines(invoice: dict[str, Any]) -> None:
    lines = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    (tax_line,) = invoice["TxnTaxDetail"]["TaxLine"]
    rate = dec(tax_line["TaxLineDetail"]["TaxPercent"])
    ids = [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in lines]
    codes = {code_id: CompanyTaxCode(code_id, "code", rate) for code_id in ids}
    mode = invoice["GlobalTaxCalculation"]
    if mode == "TaxInclusive":
        grosses = [dec(line["SalesItemLineDetail"]["TaxInclusiveAmt"]) for line in lines]
        predicted = predict_inclusive(grosses, [rate] * len(lines), ids, CURRENCY)
        assert predicted.nets == [dec(line["Amount"]) for line in lines]
        total, tax = predicted.total, predicted.tax
    else:
        amounts = [dec(line["Amount"]) for line in lines]
        exclusive = predict(amounts, [codes[i] for i in ids], None, "TaxExcluded", CURRENCY)
        total, tax = exclusive.total, exclusive.tax
    assert tax == dec(invoice["TxnTaxDetail"]["TotalTax"])
    assert total == dec(invoice["TotalAmt"])
