"""The backstop poller end to end: what HighLevel sends no webhook for (a subscription renewal,
a refund) reaches QuickBooks through the poller's reads of the stand-in's transactions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.sync_helpers import Qbo
from tests.highlevel.test_inbound_e2e import (
    LOCATION,
    HighLevel,
    contact,
    emulator_config,
    highlevel,
    installed,
    live_service,
    qbo,
    until,
)

pytestmark = pytest.mark.slow
# Fixtures shared with the webhook end-to-end module.
__all__ = ["emulator_config", "highlevel", "installed", "live_service", "qbo"]


async def _all(qbo: Qbo, entity: str, count: int) -> list[dict[str, Any]] | None:
    found = await qbo.all(entity)
    return found if len(found) >= count else None


async def test_a_renewal_becomes_a_sales_receipt(installed: HighLevel, qbo: Qbo) -> None:
    hl = installed
    await hl.call(
        "POST",
        f"/_emulator/locations/{LOCATION}/renewals",
        {"contact_id": await contact(hl), "amount": 49, "name": "Gold plan"},
    )
    [receipt] = await until(lambda: _all(qbo, "SalesReceipt", 1))
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("49.00")


async def test_a_refund_of_an_order_becomes_a_refund_receipt(
    installed: HighLevel, qbo: Qbo
) -> None:
    hl = installed
    made = await hl.call(
        "POST",
        f"/_emulator/locations/{LOCATION}/orders",
        {
            "contact_id": await contact(hl),
            "items": [{"name": "Tee", "qty": 2, "price": 17}],
            "source": {"type": "funnel", "subType": "one_step_order_form"},
        },
    )
    await hl.flush()
    await until(lambda: _all(qbo, "SalesReceipt", 1))
    txn_id = made["transaction"]["_id"]
    await hl.call(
        "POST", f"/_emulator/locations/{LOCATION}/transactions/{txn_id}/refund", {"amount": 10}
    )
    [refund] = await until(lambda: _all(qbo, "RefundReceipt", 1))
    assert Decimal(str(refund["TotalAmt"])) == Decimal("10.00")
    # HighLevel keeps only the running total (amountRefunded 10 → 34): the next refund is 24.
    await hl.call("POST", f"/_emulator/locations/{LOCATION}/transactions/{txn_id}/refund")
    refunds = await until(lambda: _all(qbo, "RefundReceipt", 2))
    assert sorted(Decimal(str(r["TotalAmt"])) for r in refunds) == [Decimal(10), Decimal(24)]
