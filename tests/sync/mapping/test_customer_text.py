"""CRM text QBO cannot take never blocks a customer: each field fits Intuit's maximum, with a note.

Inputs are synthetic, minimal strings (no real data needed to test a length rule). The maximum
lengths are Intuit's Customer entity reference, as app/sync/mapping/customer_text.py cites.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.integrations.crm.schemas import Contact, ContactEvent, parse_event
from app.integrations.quickbooks.entities import Customer, to_qbo_json
from app.integrations.quickbooks.errors import QboDuplicateNameError, error_from_fault
from app.sync.mapping.crm_payloads import contact_record
from app.sync.mapping.customer import customer_body, display_name_candidates, map_contact
from app.sync.mapping.customer_text import (
    email_addresses,
    shorten,
    without_deleted_suffix,
)
from tests.fixtures.events import contact_event


def _contact(**data: Any) -> Contact:
    event = parse_event(json.dumps(contact_event(**data)).encode())
    assert isinstance(event, ContactEvent)
    return event.data


class TestShorten:
    def test_cuts_at_the_last_blank_and_leaves_no_trailing_blank(self) -> None:
        assert shorten("Northern Lights Bakery and Cafe", 20) == "Northern Lights"
        assert shorten("abc def   ghi", 9) == "abc def"

    def test_a_single_long_word_is_cut_hard(self) -> None:
        assert shorten("x" * 30, 10) == "x" * 10

    def test_a_blank_too_early_is_not_used(self) -> None:
        # Cutting at the only blank would throw away most of what fits.
        assert shorten("ab " + "c" * 30, 20) == "ab " + "c" * 17

    def test_text_within_the_limit_is_unchanged(self) -> None:
        assert shorten("Ann ", 10) == "Ann "


class TestContactFields:
    def test_every_long_field_fits_and_is_noted(self) -> None:
        contact = _contact(
            first_name="Ann " + "a" * 150,
            last_name="O'Neil " * 30,
            company_name="Company " * 20,
            address={
                "line1": "1 Main St",
                "city": "City " * 60,
                "state": "S" * 300,
                "postal_code": "12345 6789 " * 4,
                "country": "Country " * 40,
            },
        )
        mapped = map_contact(contact)
        body = to_qbo_json(mapped.fields, sparse=False)
        limits = {"GivenName": 100, "FamilyName": 100, "CompanyName": 100}
        for key, limit in limits.items():
            assert 0 < len(body[key]) <= limit, key
            assert body[key] == body[key].strip()
        address = body["BillAddr"]
        for key, limit in {
            "City": 255,
            "CountrySubDivisionCode": 255,
            "PostalCode": 30,
            "Country": 255,
        }.items():
            assert 0 < len(address[key]) <= limit, key
            assert not address[key].endswith(" ")
        noted = " ".join(mapped.notes)
        for label in ("GivenName", "FamilyName", "CompanyName", "BillAddr.City"):
            assert label in noted
        assert len(mapped.notes) == 7

    def test_a_phone_number_is_compacted_or_left_out_never_cut(self) -> None:
        compacted = map_contact(_contact(phone="+1 (555) 010-0123 ext. 4567 / 8"))
        assert compacted.fields.PrimaryPhone is not None
        assert compacted.fields.PrimaryPhone.FreeFormNumber == "+15550100123ext4567" + "8"
        assert "PrimaryPhone" in compacted.notes[0]
        dropped = map_contact(_contact(phone="+1 555 0100 1234567890123456789012345"))
        assert dropped.fields.PrimaryPhone is None
        assert "left out" in dropped.notes[0]

    def test_a_contact_that_fits_gets_no_notes(self) -> None:
        assert map_contact(_contact()).notes == []

    def test_a_long_display_name_gets_a_print_on_check_name_qbo_takes(self) -> None:
        name = "Ann " * 40
        body = to_qbo_json(
            customer_body(map_contact(_contact()).fields, display_name=name), sparse=False
        )
        assert len(body["PrintOnCheckName"]) <= 110
        assert body["PrintOnCheckName"] == body["PrintOnCheckName"].strip()

    def test_suffixed_names_keep_their_suffix_within_500(self) -> None:
        contact = _contact(first_name="A" * 300, last_name="B" * 300)
        names = display_name_candidates(contact)
        assert len(names) == 4
        assert all(len(name) <= 500 for name in names)
        assert names[1].endswith("(O'Neil Bakery)")
        assert names[3].endswith("(contact_1)")


class TestEmail:
    @pytest.mark.parametrize(
        "value", ["a@x.com; b@y.com", "a@x.com, b@y.com", "a@x.com b@y.com", "a@x.com,b@y.com"]
    )
    def test_several_addresses_go_in_qbo_comma_form(self, value: str) -> None:
        result, notes = email_addresses(value)
        assert result == "a@x.com, b@y.com"
        assert (notes == []) == (value == "a@x.com, b@y.com")

    def test_invalid_addresses_are_dropped_with_a_note(self) -> None:
        result, notes = email_addresses("ann@example; a@x.com; @y.com; b@@y.com")
        assert result == "a@x.com"
        assert len([n for n in notes if "not a valid email" in n]) == 3

    def test_an_address_longer_than_100_is_left_out_not_cut(self) -> None:
        long = "a" * 95 + "@x.com"
        result, notes = email_addresses(long)
        assert result is None
        assert "left out" in notes[0]

    def test_addresses_beyond_100_characters_together_are_left_out(self) -> None:
        parts = [f"{c * 40}@x.com" for c in "abc"]
        result, notes = email_addresses("; ".join(parts))
        assert result == ", ".join(parts[:2])
        assert parts[2] in notes[0]

    def test_a_single_valid_address_is_unchanged(self) -> None:
        assert email_addresses("Ann.O'Neil@example.com") == ("Ann.O'Neil@example.com", [])

    def test_duplicates_are_kept_once(self) -> None:
        assert email_addresses("a@x.com; A@x.com")[0] == "a@x.com"


class TestDuplicateName:
    def _error(self, detail: str) -> QboDuplicateNameError:
        fault = {
            "Error": [{"Message": "Duplicate Name Exists Error", "Detail": detail, "code": "6240"}]
        }
        error = error_from_fault(fault, status=400, intuit_tid=None)
        assert isinstance(error, QboDuplicateNameError)
        return error

    def test_the_holder_id_is_read_from_the_detail(self) -> None:
        assert self._error("The name supplied already exists. : Id=123").holder_id == "123"
        # A localised text keeps `Id=` (synthetic French wording).
        assert self._error("Le nom fourni existe déjà. : Id=7").holder_id == "7"

    def test_an_older_text_names_no_holder(self) -> None:
        assert self._error("The name supplied already exists. : Another customer").holder_id is None

    def test_in_context_keeps_the_type_and_code(self) -> None:
        error = self._error("The name supplied already exists. : Id=1").in_context("Creating X")
        assert isinstance(error, QboDuplicateNameError)
        assert error.code == "6240"
        assert error.message.startswith("Creating X: ")


def test_deleted_suffix_is_removed_from_inactive_names_only() -> None:
    assert without_deleted_suffix("Ann (deleted)", False) == "Ann"
    assert without_deleted_suffix("Ann (deleted)", True) == "Ann (deleted)"
    assert without_deleted_suffix("Ann", False) == "Ann"


def test_an_inactive_customer_reaches_the_crm_without_the_deleted_suffix() -> None:
    # QBO's read of an inactive customer (Intuit community article 1773334).
    customer = Customer(Id="5", DisplayName="Ann O'Neil (deleted)", Active=False)
    record = contact_record(customer)
    assert record.display_name == "Ann O'Neil"
    assert record.active is False
