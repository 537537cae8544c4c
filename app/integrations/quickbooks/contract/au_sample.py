"""One real tax-inclusive invoice of an Australian QBO company, as QBO stored it.

Invoice Id 2508 of tests/conformance/samples/au-tax-inclusive-invoices.json (a public GitHub
repository holding a real Australian QuickBooks Online company's API data; source in that file's
.src.txt): GST 10 %, GlobalTaxCalculation TaxInclusive, seven item lines each with the net
Amount and UnitPrice (up to 7 places) and the gross in TaxInclusiveAmt. Copied here (the numbers
only) because the command must not read from tests/.
"""

from __future__ import annotations

from decimal import Decimal

SOURCE = (
    "real AU invoice Id 2508 in tests/conformance/samples/au-tax-inclusive-invoices.json "
    "(a real Australian QBO company's API data, see its .src.txt)"
)
# (net Amount, TaxInclusiveAmt, Qty, UnitPrice) per item line, exactly as QBO returned them.
LINES: tuple[tuple[Decimal, Decimal, Decimal, Decimal], ...] = tuple(
    (Decimal(net), Decimal(gross), Decimal(qty), Decimal(price))
    for net, gross, qty, price in (
        ("277.69", "305.46", "3", "92.5633333"),
        ("3108.91", "3419.8", "2", "1554.455"),
        ("79.55", "87.5", "2", "39.775"),
        ("38.91", "42.8", "2", "19.455"),
        ("49.2", "54.12", "2", "24.6"),
        ("18.15", "19.97", "1", "18.15"),
        ("19.98", "21.98", "1", "19.98"),
    )
)
# What QBO stored for it.
TOTAL_TAX = Decimal("359.24")
TOTAL_AMT = Decimal("3951.63")
GST_PERCENT = Decimal(10)
