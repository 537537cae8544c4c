"""Q2's decision, as a pure function of when each of a customer's invoices was paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.integrations.quickbooks.transactions import Invoice
from app.sync.qbo_to_crm.review_requests import (
    HAD_PAID_INVOICE_BEFORE,
    PAID_BEFORE_CONNECTING,
    SENT,
    TOGGLE_OFF,
    decide,
    fully_paid,
)

CONNECTED = datetime(2026, 3, 1, 12, tzinfo=UTC)
BEFORE = CONNECTED - timedelta(days=3)
AFTER = CONNECTED + timedelta(hours=1)


def test_first_invoice_paid_after_connecting_is_sent() -> None:
    assert decide({"7": AFTER}, "7", CONNECTED, True) == (SENT, "7")


def test_toggle_off_is_a_decision_too() -> None:
    assert decide({"7": AFTER}, "7", CONNECTED, False) == (TOGGLE_OFF, "7")


def test_invoice_paid_before_connecting_never_asks() -> None:
    assert decide({"7": BEFORE}, "7", CONNECTED, True) == (PAID_BEFORE_CONNECTING, "7")


def test_customer_with_a_paid_invoice_before_connecting_never_asks() -> None:
    paid = {"3": BEFORE, "9": AFTER}
    assert decide(paid, "9", CONNECTED, True) == (HAD_PAID_INVOICE_BEFORE, "3")


def test_reordered_changes_still_name_the_first_paid_invoice() -> None:
    # The second invoice's change is processed first: the request is for the first one.
    paid = {"12": AFTER + timedelta(minutes=5), "11": AFTER}
    assert decide(paid, "12", CONNECTED, True) == (SENT, "11")


def test_same_paid_time_breaks_ties_by_numeric_id() -> None:
    assert decide({"10": AFTER, "9": AFTER}, "10", CONNECTED, True) == (SENT, "9")


@pytest.mark.parametrize(
    ("total", "balance", "expected"),
    [
        ("100.00", "0", True),
        ("100.00", "0.01", False),
        ("0", "0", False),  # voided or empty: nothing was paid
        ("100.00", None, False),
    ],
)
def test_fully_paid_needs_a_positive_total_and_no_balance(
    total: str, balance: str | None, expected: bool
) -> None:
    invoice = Invoice(
        Id="1",
        TotalAmt=Decimal(total),
        Balance=Decimal(balance) if balance is not None else None,
    )
    assert fully_paid(invoice) is expected


def test_paid_in_the_second_of_connecting_counts_as_after() -> None:
    # QBO times carry whole seconds; the connection was made later within that second.
    connected = CONNECTED.replace(microsecond=600_000)
    assert decide({"7": CONNECTED}, "7", connected, True) == (SENT, "7")
