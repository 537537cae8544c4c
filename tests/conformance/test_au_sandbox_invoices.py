"""The emulator's tax-exclusive and tax-inclusive rules against a real AU sandbox company.

samples/au-sandbox-invoices.json: invoices QBO returned for an Australian sandbox company
(source in its .src.txt): tax-exclusive at 15 %, 12 %, 10 % and 0 %, tax-inclusive at 10 %
(one with UnitPrice 0.9090889 = 409.09 / 450). Each is POSTed in its stored form to a fresh AU
emulator company; the emulator must return the same money fields, including a 0 % tax line
with Amount 0 and no TxnTaxCodeRef.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .emulated import identity, load, money_view, replay, stored_id_maps

INVOICES = load("au-sandbox-invoices.json")
STORED_FORM = ("Amount", "Qty", "UnitPrice", "TaxInclusiveAmt")


def test_the_sample_covers_both_calculations_and_a_zero_rate() -> None:
    calcs = {doc["GlobalTaxCalculation"] for doc in INVOICES}
    assert calcs == {"TaxExcluded", "TaxInclusive"}
    percents = {
        t["TaxLineDetail"]["TaxPercent"] for doc in INVOICES for t in doc["TxnTaxDetail"]["TaxLine"]
    }
    assert percents == {0, 10, 12, 15}


@pytest.mark.parametrize("doc", INVOICES, ids=[doc["Id"] for doc in INVOICES])
async def test_emulator_stores_the_invoice_as_qbo_did(
    emu_http: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    company, created = await replay(emu_http, doc, STORED_FORM)
    codes, rates = stored_id_maps(doc, company)
    assert money_view(created, *identity(company)) == money_view(doc, codes, rates)
