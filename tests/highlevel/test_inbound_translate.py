"""Each documented HighLevel webhook example (copied from GoHighLevel/highlevel-api-docs, see
samples/*.src.txt) translated into our envelope event, or ignored with its reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.integrations.crm.schemas import InvoiceDeletedEvent, InvoiceEvent, PaymentEvent
from app.integrations.highlevel.webhooks import HlInvoice, HlOrder, kind_of, load_body, location_of
from app.sync.highlevel.translate import (
    Ignored,
    NeedsFullObject,
    Translated,
    contact_event,
    invoice_event,
)
from app.sync.highlevel.translate_orders import order_event

SAMPLES = Path(__file__).parent / "samples"


def _doc(name: str) -> dict[str, Any]:
    return load_body((SAMPLES / f"{name}.json").read_bytes())


def _invoice(name: str, **changes: Any) -> HlInvoice:
    return HlInvoice.model_validate({**_doc(name), **changes})


def test_the_invoice_examples_are_known_by_their_fields_and_located_by_alt_id() -> None:
    document = _doc("InvoicePaid")
    assert "type" not in document  # the docs' invoice examples carry no type
    assert kind_of(document) == "invoice"
    assert location_of(document) == "6578278e879ad2646715ba9c"


def test_invoice_sent_example_becomes_invoice_sent_with_exact_money() -> None:
    outcome = invoice_event(_invoice("InvoiceSent"), "loc-1", from_api=False)
    assert isinstance(outcome, Translated)
    event = outcome.event
    assert isinstance(event, InvoiceEvent)
    assert event.type == "invoice.sent"
    assert event.location_id == "loc-1"
    data = event.data
    assert data.number == "19"
    assert data.currency == "USD"
    assert data.contact.email == "alex@example.com"
    assert data.contact.first_name == "Alex"
    assert [(i.name, i.quantity, i.unit_price) for i in data.line_items] == [
        ("Macbook Pro", Decimal(1), Decimal(999))
    ]
    # The example's discount field says 10 % but its totalSummary took nothing off and its
    # total is 999: HighLevel's totals win, so no discount is sent.
    assert data.discount is None
    assert (data.totals.subtotal, data.totals.total, data.totals.amount_due) == (
        Decimal(999),
        Decimal(999),
        Decimal(999),
    )


def test_paid_partially_paid_void_and_delete_examples() -> None:
    paid = invoice_event(_invoice("InvoicePaid"), "loc-1", from_api=False)
    assert isinstance(paid, Translated)
    assert paid.event.type == "invoice.paid"
    assert isinstance(paid.event, InvoiceEvent)
    assert paid.event.data.totals.amount_paid == 999
    partial = invoice_event(_invoice("InvoicePartiallyPaid"), "loc-1", from_api=False)
    assert isinstance(partial, Translated)
    assert partial.event.type == "invoice.partially_paid"
    assert isinstance(partial.event, InvoiceEvent)
    assert partial.event.data.totals.amount_paid == 899
    void = invoice_event(_invoice("InvoiceVoid"), "loc-1", from_api=False)
    assert isinstance(void, Translated)
    assert void.event.type == "invoice.voided"
    deleted = invoice_event(_invoice("InvoiceDelete"), "loc-1", from_api=False)
    assert isinstance(deleted, Translated)
    assert isinstance(deleted.event, InvoiceDeletedEvent)
    assert deleted.event.data.id == "6578278e879ad2646715ba9c"


def test_drafts_are_ignored_and_payment_processing_is_sent_not_paid() -> None:
    assert invoice_event(_invoice("InvoiceUpdate"), "l", from_api=False) == Ignored("draft invoice")
    processing = invoice_event(
        _invoice("InvoicePaid", status="payment_processing"), "l", from_api=False
    )
    assert isinstance(processing, Translated)
    assert processing.event.type == "invoice.sent"


def test_taxed_items_without_a_tax_total_need_the_full_invoice() -> None:
    document = _doc("InvoiceSent")
    document["invoiceItems"][0]["taxes"] = [{"name": "VAT", "rate": 10}]
    outcome = invoice_event(HlInvoice.model_validate(document), "l", from_api=False)
    assert isinstance(outcome, NeedsFullObject)
    assert outcome.kind == "invoice"
    auto = invoice_event(_invoice("InvoiceSent", automaticTaxesEnabled=True), "l", from_api=False)
    assert isinstance(auto, NeedsFullObject)
    # The API's own object without the total is not guessed at either.
    assert isinstance(
        invoice_event(HlInvoice.model_validate(document), "l", from_api=True), Ignored
    )


def test_a_percentage_discount_that_reproduces_highlevels_amount_is_kept() -> None:
    document = _doc("InvoiceSent")
    document["totalSummary"] = {"subTotal": 999, "discount": Decimal("99.9"), "tax": 0}
    document["total"] = Decimal("899.1")
    outcome = invoice_event(HlInvoice.model_validate(document), "l", from_api=True)
    assert isinstance(outcome, Translated)
    assert isinstance(outcome.event, InvoiceEvent)
    assert outcome.event.data.discount is not None
    assert (outcome.event.data.discount.type, outcome.event.data.discount.value) == (
        "percentage",
        Decimal(10),
    )
    assert outcome.event.data.totals.total == Decimal("899.10")


def test_the_same_fact_gets_the_same_event_id_and_a_new_state_a_new_one() -> None:
    first = invoice_event(_invoice("InvoicePaid"), "l", from_api=False)
    again = invoice_event(_invoice("InvoicePaid"), "l", from_api=True)
    later = invoice_event(
        _invoice("InvoicePaid", updatedAt="2023-12-13T09:27:42.355Z"), "l", from_api=False
    )
    assert isinstance(first, Translated)
    assert isinstance(again, Translated)
    assert isinstance(later, Translated)
    assert first.event.id == again.event.id != later.event.id


def test_order_status_update_example_becomes_a_payment_with_its_tax() -> None:
    document = _doc("OrderStatusUpdate")
    assert kind_of(document) == "order"
    assert location_of(document) == "Z4Bxl8J4SaPEPLq9IQ8g"
    outcome = order_event(HlOrder.model_validate(document), "loc", from_api=False)
    assert isinstance(outcome, Translated)
    assert isinstance(outcome.event, PaymentEvent)
    data = outcome.event.data
    assert data.source == "other"
    assert data.reference is not None
    assert "store" in data.reference
    assert [(i.name, i.unit_price, [t.rate for t in i.taxes]) for i in data.line_items] == [
        ("Men's classic tee - XL / Charcoal", Decimal(17), []),
        ("Tshirt - Green / S", Decimal(121), [Decimal(10)]),
    ]
    assert (data.totals.subtotal, data.totals.tax, data.totals.total) == (
        Decimal(138),
        Decimal("12.10"),
        Decimal("150.10"),
    )
    assert data.contact.id == "ff2JstbQJfRuofXzeT0M"
    assert data.contact.last_name == "Schmidt"


def test_an_order_that_is_not_completed_is_ignored() -> None:
    document = {**_doc("OrderStatusUpdate"), "status": "pending"}
    assert isinstance(order_event(HlOrder.model_validate(document), "l", from_api=False), Ignored)


def test_contact_examples_become_contact_updated() -> None:
    for name in ("ContactCreate", "ContactUpdate"):
        document = _doc(name)
        assert kind_of(document) == "contact"
        outcome = contact_event(document, location_of(document) or "")
        assert isinstance(outcome, Translated)
        assert outcome.event.type == "contact.updated"
        assert outcome.event.location_id == "ve9EPM428h8vShlRW1KT"


def test_install_examples_are_installs() -> None:
    assert kind_of(_doc("AppInstall")) == "install"
    assert kind_of(_doc("AppUninstall")) == "install"
    assert json.loads((SAMPLES / "AppInstall.json").read_text())["type"] == "INSTALL"
