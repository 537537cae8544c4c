"""QBO request bodies are typed models: a field nobody declared is refused before any request.

Reading stays tolerant (tests/integrations/quickbooks/test_entities.py keeps unknown fields of
what QBO sends); what this service builds must carry only declared fields, at any depth. The
hashes stored in `entity_links.content_hash` are those earlier versions stored (captured from
the dict-building code, commit 419ff7c), so a deploy does not re-send every linked customer and
invoice to QBO.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from app.integrations.crm.schemas import ContactEvent, InvoiceEvent, parse_event
from app.integrations.quickbooks.entities import (
    Customer,
    EmailAddress,
    UnknownFieldError,
    for_write,
    to_qbo_json,
)
from app.integrations.quickbooks.transactions import Invoice, Line, SalesItemLineDetail
from app.sync.crm_to_qbo import invoices as invoice_flow
from app.sync.mapping.customer import content_hash, customer_body, owned_fields
from app.sync.mapping.documents import DocumentInput, map_us_document
from tests.fixtures.events import contact_event, invoice_event


def _contact(**data: Any) -> ContactEvent:
    event = parse_event(json.dumps(contact_event(**data)).encode())
    assert isinstance(event, ContactEvent)
    return event


def _invoice_fields(**data: Any) -> Invoice:
    event = parse_event(json.dumps(invoice_event(**data)).encode())
    assert isinstance(event, InvoiceEvent)
    invoice = event.data
    document = DocumentInput(
        currency=invoice.currency,
        lines=invoice.line_items,
        discount=invoice.discount,
        totals_total=invoice.totals.total,
        totals_tax=invoice.totals.tax,
        totals_discount=invoice.totals.discount,
        item_ids={line.name: "7" for line in invoice.line_items},
    )
    return invoice_flow._fields(invoice, "42", map_us_document(document))


class TestForWrite:
    def test_a_misspelt_field_is_refused(self) -> None:
        with pytest.raises(UnknownFieldError, match=r"Customer\.DisplayNam\b"):
            for_write(Customer(DisplayNam="Ann"))

    def test_at_any_depth(self) -> None:
        detail = SalesItemLineDetail.model_validate({"Qty": 1, "UnitPrce": "9.50"})
        invoice = Invoice(Line=[Line(Amount=Decimal("9.50"), SalesItemLineDetail=detail)])
        with pytest.raises(
            UnknownFieldError, match=r"Invoice\.Line\.SalesItemLineDetail\.UnitPrce"
        ):
            for_write(invoice)
        customer = Customer.model_validate({"PrimaryEmailAddr": {"Adress": "a@b.co"}})
        with pytest.raises(UnknownFieldError, match=r"PrimaryEmailAddr\.Adress"):
            for_write(customer)

    def test_declared_fields_pass_unchanged_and_reading_stays_tolerant(self) -> None:
        customer = Customer(DisplayName="Ann", PrimaryEmailAddr=EmailAddress(Address="a@b.co"))
        assert for_write(customer) is customer
        read = Customer.model_validate({"Id": "1", "DisplayName": "Ann", "Future": {"x": 1}})
        assert read.model_extra == {"Future": {"x": 1}}


class TestCustomerBodies:
    def test_only_what_the_contact_has_is_set(self) -> None:
        contact = _contact(phone=None, address={"line1": "1 Road", "city": "", "state": "TX"})
        fields = owned_fields(contact.data)
        body = to_qbo_json(
            customer_body(fields, customer_id="9", sync_token="3", reactivate=True), sparse=True
        )
        assert body == {
            "Id": "9",
            "SyncToken": "3",
            "GivenName": "Ann",
            "FamilyName": "O'Neil",
            "CompanyName": "O'Neil Bakery",
            "PrimaryEmailAddr": {"Address": "Ann.O'Neil@example.com"},
            "BillAddr": {"Line1": "1 Road", "CountrySubDivisionCode": "TX"},
            "Active": True,
            "sparse": True,
        }

    def test_create_names_the_customer(self) -> None:
        body = to_qbo_json(
            customer_body(owned_fields(_contact().data), display_name="Ann O'Neil"), sparse=False
        )
        assert body["DisplayName"] == "Ann O'Neil"
        assert "Id" not in body

    @pytest.mark.parametrize(
        ("data", "stored"),
        [
            ({}, "d0f9d60f51a74b970070a19b5a43dff27284caa46c77a77b5d64d24e62af5948"),
            (
                {
                    "address": {
                        "line1": "1 Road",
                        "line2": "",
                        "city": "Austin",
                        "state": "TX",
                        "postal_code": None,
                        "country": "US",
                    },
                    # Within QBO's 30 characters: a longer number is no longer cut (it is
                    # compacted or left out, tests/sync/mapping/test_customer_text.py); this
                    # hash was computed with the code of commit 156bca8.
                    "phone": "+1 (555) 010-0123 ext 4567",
                },
                "9cdd74d2f0546f222fd415db51ab803ffe0bc20e2559473488d634efaa5d9bab",
            ),
            (
                {
                    "email": None,
                    "first_name": None,
                    "last_name": None,
                    "company_name": "Acme: Inc",
                    "address": {"line1": "", "city": ""},
                },
                "ac7bfbd96ddc7d922ff07695ede109f99c143b1bd8c369d9f0001f137c8df40c",
            ),
        ],
    )
    def test_content_hash_is_the_one_earlier_versions_stored(
        self, data: dict[str, Any], stored: str
    ) -> None:
        assert content_hash(owned_fields(_contact(**data).data)) == stored


class TestInvoiceBodies:
    @pytest.mark.parametrize(
        ("data", "stored"),
        [
            ({}, "f8d236a2634c4fc7e98aeddfe804a3870342c20b2e6b284d19fa5a0021762164"),
            (
                {"billing_email": None, "due_date": None},
                "cbcf8d94f914e96cea17fcb3b9318197d6310c95cd447e660dbf3927fb566ae0",
            ),
        ],
    )
    def test_digest_is_the_one_earlier_versions_stored(
        self, data: dict[str, Any], stored: str
    ) -> None:
        assert invoice_flow._digest(_invoice_fields(**data)) == stored

    def test_the_body_carries_the_owned_fields(self) -> None:
        body = to_qbo_json(_invoice_fields(), sparse=False)
        assert body["DocNumber"] == "INV-1001"
        assert body["CustomerRef"] == {"value": "42"}
        assert body["BillEmail"] == {"Address": "billing@example.com"}
        assert body["PrivateNote"].startswith("[qbo-sync invoice inv_1]")
        assert {line["DetailType"] for line in body["Line"]} == {"SalesItemLineDetail"}
