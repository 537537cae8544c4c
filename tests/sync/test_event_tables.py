"""Every CRM event type and every QBO change entity has its row, and every row its flow.

The tables beside the schemas (app/integrations/crm/event_table.py,
app/integrations/quickbooks/change_entities.py) are what intake, the jobs, the handlers, CDC and
echo suppression read; these tests fail when a type or an entity is added without them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from app.integrations.crm import event_table
from app.integrations.crm.schemas import EVENT_TYPES, parse_event
from app.integrations.quickbooks import change_entities
from app.integrations.quickbooks.change_entities import (
    CHANGE_ENTITIES,
    SYNCED_ENTITIES,
    skip_reason,
)
from app.integrations.quickbooks.webhooks import QBO_ENTITIES
from app.sync.crm_to_qbo.handlers import flow_of
from app.sync.qbo_to_crm import cdc, changes
from tests.fixtures.events import (
    contact_event,
    invoice_deleted_event,
    invoice_event,
    payment_event,
    refund_event,
)

# One sample per event type: a type added to the schema needs one here too.
SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    **{
        name: partial(invoice_event, type_=name)
        for name in EVENT_TYPES
        if name.startswith("invoice.") and name != "invoice.deleted"
    },
    "payment.succeeded": payment_event,
    "contact.updated": contact_event,
    "payment.refunded": refund_event,
    "invoice.deleted": invoice_deleted_event,
}


def parsed(event_type: str) -> Any:
    return parse_event(json.dumps(SAMPLES[event_type]()).encode())


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_row_and_a_flow(event_type: str) -> None:
    assert event_type in SAMPLES, f"add a sample {event_type} event to this test"
    event = parsed(event_type)
    spec = event_table.spec_for(event_type)
    assert spec is not None, f"{event_type} has no row in the event table"
    assert isinstance(event, spec.model)
    assert callable(flow_of(event)), f"{event_type} has no flow in handlers.flow_of"


def test_the_event_table_agrees_with_the_schema() -> None:
    assert event_table.table_problems() == []


def test_a_type_without_a_row_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import-time check is live: a type the table lacks is reported by name."""
    rows = {k: v for k, v in event_table.EVENTS.items() if k != "contact.updated"}
    monkeypatch.setattr(event_table, "EVENTS", rows)
    assert event_table.table_problems() == [
        "contact.updated: no row in EVENTS",
        "ContactEvent: no row in EVENTS",
    ]


def test_refund_locks_on_its_payments_refunds_and_deleted_invoice_on_the_invoice() -> None:
    """Refunds of one payment run in order, but never block the payment they wait for."""
    refund = parsed("payment.refunded")
    assert event_table.lock_key(refund) == ("payment_refunds", "pay_1")
    assert event_table.subject(refund) == ("refund", "rf_1")
    gone = parsed("invoice.deleted")
    assert event_table.lock_key(gone) == ("invoice", "inv_1")
    assert event_table.subject(gone) == ("invoice", "inv_1")


def test_lock_keys_and_subjects() -> None:
    """An invoice payment queues behind its invoice but is recorded as its sales receipt."""
    invoice = parsed("invoice.paid")
    assert event_table.lock_key(invoice) == ("invoice", "inv_1")
    assert event_table.subject(invoice) == ("invoice", "inv_1")
    pays_invoice = parse_event(
        json.dumps(payment_event(source="invoice", invoice_id="inv_1")).encode()
    )
    assert event_table.lock_key(pays_invoice) == ("invoice", "inv_1")
    assert event_table.subject(pays_invoice) == ("sales_receipt", "pay_1")
    payment = parsed("payment.succeeded")
    assert event_table.lock_key(payment) == ("payment", "pay_1")
    assert event_table.subject(payment) == ("sales_receipt", "pay_1")
    contact = parsed("contact.updated")
    assert event_table.lock_key(contact) == ("contact", "contact_1")
    assert event_table.subject(contact) == ("customer", "contact_1")


def test_every_synced_entity_has_a_flow_and_cdc_reads_the_table() -> None:
    assert SYNCED_ENTITIES == ("Customer", "Invoice", "Payment")
    assert set(changes.FLOWS) == set(SYNCED_ENTITIES)
    assert changes.flow_problems() == []
    assert list(cdc.ENTITIES) == list(SYNCED_ENTITIES)
    assert cdc.LINK_KINDS == {"Customer": "customer", "Invoice": "invoice", "Payment": "payment"}
    assert change_entities.table_problems() == []


def test_a_synced_entity_without_a_flow_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes, "FLOWS", {"Customer": changes.FLOWS["Customer"]})
    assert changes.flow_problems() == [
        "Invoice: synced, but no flow",
        "Payment: synced, but no flow",
    ]


def test_entities_without_a_flow_are_skipped_with_the_reason() -> None:
    for name, entity in CHANGE_ENTITIES.items():
        assert QBO_ENTITIES[name.lower()] == name, "the webhook parser must know every entity"
        reason = skip_reason(name)
        if entity.synced:
            assert reason is None
        else:
            assert reason is not None
            assert f"no {name} changes" in reason
            assert entity.skipped is not None
            assert entity.skipped in reason
    skipped = {n for n, e in CHANGE_ENTITIES.items() if not e.synced}
    assert skipped == {"Item", "SalesReceipt", "RefundReceipt", "CreditMemo"}
    assert skip_reason("Bill") == (
        "skipped: this service syncs no Bill changes (it handles: Customer, Invoice, Payment)"
    )
