"""The callback models say exactly what the CRM has always received (docs/design.md §2.4).

`callback_examples.json` holds callback data captured from the code that built them as dicts
(its `source` says how). Each model must read every example of its type and give back the same
JSON, key for key (a key too many, too few or a null where there was none fails), and the
builders must make the same records, with the same hashes, from the QBO reference samples.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.integrations.crm.callback_payloads import (
    CALLBACK_PAYLOADS,
    CallbackPayload,
    ContactUpsertCallback,
    SyncResultCallback,
)
from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.transactions import Invoice
from app.integrations.quickbooks.transport import decode_json
from app.models import Connection
from app.models.states import ConnectionStatus
from app.sync.mapping import crm_payloads

HERE = Path(__file__).resolve().parent
EXAMPLES: dict[str, Any] = json.loads((HERE / "callback_examples.json").read_text())
SAMPLES = HERE.parents[1] / "emulator" / "samples"
MODELS: dict[str, type[CallbackPayload]] = {
    model.callback_type: model for model in CALLBACK_PAYLOADS
}


def _sample(name: str, key: str) -> dict[str, Any]:
    body: dict[str, Any] = decode_json((SAMPLES / name).read_text())
    return body[key]  # type: ignore[no-any-return]


def test_every_callback_type_has_one_model() -> None:
    types = {example["type"] for example in EXAMPLES["callbacks"]}
    assert (
        set(MODELS)
        == types
        == {
            "contact.upsert",
            "invoice.import",
            "review_request.send",
            "connection.status",
            "sync.result",
        }
    )
    assert len(MODELS) == len(CALLBACK_PAYLOADS)


@pytest.mark.parametrize(
    "example",
    EXAMPLES["callbacks"],
    ids=[f"{n}-{example['type']}" for n, example in enumerate(EXAMPLES["callbacks"])],
)
def test_the_model_gives_back_exactly_the_captured_json(example: dict[str, Any]) -> None:
    model = MODELS[example["type"]]
    assert model.model_validate(example["data"]).as_json() == example["data"]


def test_a_key_nobody_declared_never_reaches_the_crm() -> None:
    data = next(e["data"] for e in EXAMPLES["callbacks"] if e["type"] == "sync.result")
    with pytest.raises(ValidationError, match="total"):
        SyncResultCallback.model_validate({**data, "total": "19.99"})
    with pytest.raises(ValidationError):
        SyncResultCallback.model_validate({k: v for k, v in data.items() if k != "action"})


def test_contact_and_invoice_records_match_the_previous_builders() -> None:
    records = EXAMPLES["records"]
    customer = Customer.model_validate(_sample("customer-read-response.json", "Customer"))
    contact = crm_payloads.contact_record(customer)
    assert contact.model_dump(mode="json") == records["contact_record"]
    assert crm_payloads.record_hash(contact) == records["contact_hash"]
    invoice = Invoice.model_validate(_sample("invoice-read-response-with-tax.json", "Invoice"))
    record = crm_payloads.invoice_record(invoice)
    assert record.model_dump(mode="json") == records["invoice_record"]
    assert crm_payloads.record_hash(record) == records["invoice_hash"]


def test_an_empty_qbo_address_is_no_address() -> None:
    customer = Customer.model_validate({"Id": "5", "DisplayName": "Ann", "BillAddr": {}})
    assert crm_payloads.contact_record(customer).address is None
    customer = Customer.model_validate({"Id": "5", "BillAddr": {"Id": "9"}})
    assert crm_payloads.contact_record(customer).address is not None


def test_linked_merged_and_deleted_contacts() -> None:
    customer = Customer.model_validate(_sample("customer-read-response.json", "Customer"))
    record = crm_payloads.contact_record(customer)
    linked = crm_payloads.contact_changed(record, "contact-1", [])
    assert linked.as_json() == EXAMPLES["callbacks"][17]["data"]
    gone = crm_payloads.contact_changed(crm_payloads.deleted_contact_record("63"), None, ["64"])
    assert gone.as_json() == EXAMPLES["callbacks"][18]["data"]
    page = crm_payloads.contacts_imported([record])
    assert page.as_json() == {"import": True, "contacts": [record.model_dump(mode="json")]}


def test_changed_and_deleted_imported_invoices() -> None:
    invoice = Invoice.model_validate(_sample("invoice-read-response-with-tax.json", "Invoice"))
    changed = crm_payloads.invoice_changed(crm_payloads.invoice_record(invoice))
    assert changed.as_json() == EXAMPLES["callbacks"][19]["data"]
    deleted = crm_payloads.invoice_changed(crm_payloads.deleted_invoice_record("130"))
    assert deleted.as_json() == EXAMPLES["callbacks"][20]["data"]
    assert "import" not in crm_payloads.invoices_imported([]).as_json()


def test_connection_status_with_and_without_the_import() -> None:
    connection = Connection(
        location_id="loc-1",
        realm_id="9130",
        status=ConnectionStatus.ACTIVE,
        status_reason=None,
        import_state="running",
        import_progress={"customers": {"done": 0, "total": 3, "next_position": 1}},
    )
    plain = crm_payloads.connection_status(connection).as_json()
    assert set(plain) == {"location_id", "realm_id", "status", "reason", "at"}
    # The CRM has always received Python's isoformat: "+00:00", never "Z".
    assert datetime.fromisoformat(plain["at"]).tzinfo is not None
    assert plain["at"].endswith("+00:00")
    reported = crm_payloads.connection_status(connection, with_import=True, error="boom").as_json()
    assert reported["import"] == {
        "state": "running",
        "progress": {"customers": {"done": 0, "total": 3, "next_position": 1}},
        "error": "boom",
    }
    assert (
        "error"
        not in crm_payloads.connection_status(connection, with_import=True).as_json()["import"]
    )


def test_review_request() -> None:
    customer = Customer.model_validate(_sample("customer-read-response.json", "Customer"))
    callback = crm_payloads.review_request(
        customer_id="2",
        customer=customer,
        invoice_id="130",
        crm_contact_id=None,
        paid_date=datetime(2025, 3, 1, 23, 59, tzinfo=UTC).date(),
    )
    assert callback.as_json() == {
        "qbo_customer_id": "2",
        "qbo_invoice_id": "130",
        "crm_contact_id": None,
        "email": "Surf@Intuit.com",
        "name": "Bill's Windsurf Shop",
        "paid_date": "2025-03-01",
    }


def test_contact_upsert_keeps_each_contact_shape() -> None:
    # A union of models serialises each item as its own class: no field of a linked contact
    # (crm_contact_id, merged_from) is lost to the plain import record's shape.
    example = EXAMPLES["callbacks"][18]["data"]
    parsed = ContactUpsertCallback.model_validate(example)
    assert type(parsed.contacts[0]).__name__ == "DeletedContactChange"
    assert parsed.as_json() == example
