import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.integrations.crm.canonical import canonical_body_hash
from app.integrations.crm.schemas import (
    EVENT_TYPES,
    ContactEvent,
    EventValidationError,
    FieldError,
    InvoiceEvent,
    InvoiceStatus,
    PaymentEvent,
    PaymentSource,
    parse_event,
)

# invoice.deleted carries only the id and the time: it is not an invoice snapshot.
INVOICE_TYPES = [t for t in EVENT_TYPES if t.startswith("invoice.") and t != "invoice.deleted"]


def _contact() -> dict[str, Any]:
    return {
        "id": "ct_81f2",
        "email": "Jane.O'Neil@example.com",
        "first_name": "Jane",
        "last_name": "O'Neil",
        "company_name": "Neil & Sons",
        "phone": "+1 415 555 0100",
        "address": {
            "line1": "1 Market St",
            "line2": "Suite 300",
            "city": "San Francisco",
            "state": "CA",
            "postal_code": "94105",
            "country": "US",
        },
    }


def _line_items() -> list[dict[str, Any]]:
    return [
        {
            "name": "Consulting",
            "description": "Hourly consulting, May",
            "quantity": "2.5",
            "unit_price": "120.00",
            "taxes": [{"name": "CA sales tax", "rate": "8.25", "inclusive": False}],
        },
        {"name": "Setup fee", "quantity": 1, "unit_price": 49.5, "taxes": []},
    ]


def invoice_event(event_type: str = "invoice.sent") -> dict[str, Any]:
    return {
        "id": "evt_01HZX3",
        "type": event_type,
        "occurred_at": "2026-05-02T10:15:30.123Z",
        "location_id": "loc_42",
        "data": {
            "id": "inv_9001",
            "number": "INV-0042",
            "status": "sent",
            "issue_date": "2026-05-02",
            "due_date": "2026-06-01",
            "created_at": "2026-05-01T09:00:00-07:00",
            "updated_at": "2026-05-02T10:15:30+00:00",
            "currency": "USD",
            "contact": _contact(),
            "billing_email": "billing@example.com",
            "line_items": _line_items(),
            "discount": {"type": "percentage", "value": "10"},
            "totals": {
                "subtotal": "349.50",
                "discount": "34.95",
                "tax": "22.28",
                "total": "336.83",
                "amount_paid": "0.00",
                "amount_due": "336.83",
            },
        },
    }


def payment_event() -> dict[str, Any]:
    return {
        "id": "evt_pay_77",
        "type": "payment.succeeded",
        "occurred_at": "2026-05-03T12:00:00Z",
        "location_id": "loc_42",
        "data": {
            "id": "pay_5",
            "source": "order_form",
            "paid_at": "2026-05-03T11:59:58Z",
            "currency": "EUR",
            "contact": _contact(),
            "line_items": _line_items(),
            "discount": {"type": "fixed", "value": "5.00"},
            "totals": {"subtotal": "349.50", "discount": "5.00", "tax": "0", "total": "344.50"},
            "payment_method": "card",
            "reference": "ch_3PXY",
        },
    }


def contact_event() -> dict[str, Any]:
    return {
        "id": "evt_ct_1",
        "type": "contact.updated",
        "occurred_at": "2026-05-04T08:00:00+02:00",
        "location_id": "loc_42",
        "data": _contact(),
    }


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


def _errors(body: bytes) -> list[FieldError]:
    with pytest.raises(EventValidationError) as caught:
        parse_event(body)
    return caught.value.errors


def _paths(body: bytes) -> set[str]:
    return {error.path for error in _errors(body)}


class TestAcceptsEveryEventType:
    @pytest.mark.parametrize("event_type", INVOICE_TYPES)
    def test_invoice_events(self, event_type: str) -> None:
        event = parse_event(_body(invoice_event(event_type)))

        assert isinstance(event, InvoiceEvent)
        assert event.type == event_type
        assert event.id == "evt_01HZX3"
        assert event.occurred_at == datetime(2026, 5, 2, 10, 15, 30, 123000, tzinfo=UTC)
        assert event.data.status is InvoiceStatus.SENT
        assert event.data.issue_date == date(2026, 5, 2)
        assert event.data.created_at.utcoffset() == timedelta(hours=-7)
        assert event.data.contact.address is not None
        assert event.data.contact.address.postal_code == "94105"
        assert event.data.line_items[0].quantity == Decimal("2.5")
        assert event.data.line_items[0].taxes[0].rate == Decimal("8.25")
        assert event.data.line_items[1].unit_price == Decimal("49.5")
        assert event.data.discount is not None
        assert event.data.discount.type == "percentage"
        assert event.data.totals.total == Decimal("336.83")

    def test_payment_event(self) -> None:
        event = parse_event(_body(payment_event()))

        assert isinstance(event, PaymentEvent)
        assert event.data.source is PaymentSource.ORDER_FORM
        assert event.data.invoice_id is None
        assert event.data.totals.amount_paid is None
        assert event.data.totals.total == Decimal("344.50")
        assert event.data.payment_method == "card"
        assert event.data.reference == "ch_3PXY"

    def test_payment_of_an_invoice(self) -> None:
        document = payment_event()
        document["data"].update(source="invoice", invoice_id="inv_9001")
        document["data"]["totals"].update(amount_paid="344.50", amount_due="0.00")

        event = parse_event(_body(document))

        assert isinstance(event, PaymentEvent)
        assert event.data.invoice_id == "inv_9001"
        assert event.data.totals.amount_due == Decimal("0.00")

    def test_contact_event(self) -> None:
        event = parse_event(_body(contact_event()))

        assert isinstance(event, ContactEvent)
        assert event.data.email == "Jane.O'Neil@example.com"
        assert event.occurred_at.utcoffset() == timedelta(hours=2)

    def test_minimal_contact_needs_only_an_id(self) -> None:
        document = contact_event()
        document["data"] = {"id": "ct_1", "email": None, "address": None}

        event = parse_event(_body(document))

        assert isinstance(event, ContactEvent)
        assert event.data.email is None

    def test_empty_email_means_no_email(self) -> None:
        document = contact_event()
        document["data"]["email"] = ""

        event = parse_event(_body(document))

        assert event.data.email is None  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("given", "stored"), [("void", InvoiceStatus.VOIDED), ("voided", InvoiceStatus.VOIDED)]
    )
    def test_void_spellings_normalise_to_voided(self, given: str, stored: InvoiceStatus) -> None:
        document = invoice_event("invoice.voided")
        document["data"]["status"] = given

        event = parse_event(_body(document))

        assert isinstance(event, InvoiceEvent)
        assert event.data.status is stored

    @pytest.mark.parametrize(
        "status", ["draft", "sent", "viewed", "partially_paid", "paid", "overdue"]
    )
    def test_usual_statuses(self, status: str) -> None:
        document = invoice_event()
        document["data"]["status"] = status

        event = parse_event(_body(document))

        assert isinstance(event, InvoiceEvent)
        assert event.data.status == status

    def test_unknown_fields_in_data_are_ignored(self) -> None:
        document = invoice_event()
        document["data"]["brand_new_crm_field"] = {"anything": [1, 2]}
        document["data"]["contact"]["tags"] = ["vip"]
        document["data"]["line_items"][0]["sku"] = "CONS-1"

        parse_event(_body(document))

    def test_unknown_fields_in_envelope_are_rejected(self) -> None:
        document = invoice_event()
        document["version"] = 2

        assert _paths(_body(document)) == {"version"}


class TestMoney:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ('"0.1"', "0.1"),
            ("0.1", "0.1"),
            ('"1234567890.12"', "1234567890.12"),
            ("1234567890.12", "1234567890.12"),
            ("0", "0"),
            ('"19.90"', "19.90"),
            ("1E+2", "100"),
        ],
    )
    def test_numbers_and_strings_are_exact(self, raw: str, expected: str) -> None:
        document = json.dumps(invoice_event()).replace('"total": "336.83"', f'"total": {raw}')

        event = parse_event(document.encode())

        assert isinstance(event, InvoiceEvent)
        assert isinstance(event.data.totals.total, Decimal)
        assert event.data.totals.total == Decimal(expected)
        assert str(event.data.totals.total) == str(Decimal(raw.strip('"')))

    def test_json_number_never_goes_through_float(self) -> None:
        document = json.dumps(invoice_event()).replace('"unit_price": 49.5', '"unit_price": 0.1')

        event = parse_event(document.encode())

        assert isinstance(event, InvoiceEvent)
        assert event.data.line_items[1].unit_price.as_tuple() == Decimal("0.1").as_tuple()

    def test_serialises_as_decimal_strings(self) -> None:
        document = json.dumps(invoice_event()).replace('"total": "336.83"', '"total": 1E+2')
        event = parse_event(document.encode())

        out = json.loads(event.model_dump_json())

        assert out["data"]["totals"]["total"] == "100"
        assert out["data"]["totals"]["subtotal"] == "349.50"
        assert out["data"]["line_items"][0]["quantity"] == "2.5"

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ('"abc"', "decimal number"),
            ('"NaN"', "decimal number"),
            ('"Infinity"', "decimal number"),
            ('"1e5"', "decimal number"),
            ('""', "decimal number"),
            ("1e999", "exceed"),
            ("-1e999", "exceed"),
            ('"1000000000000.01"', "exceed"),
            ("true", "boolean"),
            ("null", "decimal string or number"),
            ("[1]", "decimal string or number"),
            ("1.234", "2 decimal places"),
            ('"1.234"', "2 decimal places"),
            ('"-1.00"', "negative"),
        ],
    )
    def test_bad_totals_are_rejected_with_exact_path(self, raw: str, message: str) -> None:
        document = json.dumps(invoice_event()).replace('"total": "336.83"', f'"total": {raw}')

        errors = _errors(document.encode())

        assert [e.path for e in errors] == ["data.totals.total"]
        assert message in errors[0].message

    def test_unit_price_allows_six_places_but_not_seven(self) -> None:
        document = invoice_event()
        document["data"]["line_items"][0]["unit_price"] = "0.123456"
        parse_event(_body(document))

        document["data"]["line_items"][0]["unit_price"] = "0.1234567"
        assert _paths(_body(document)) == {"data.line_items.0.unit_price"}

    def test_trailing_zeros_do_not_count_as_places(self) -> None:
        document = invoice_event()
        document["data"]["totals"]["total"] = "336.8300"

        event = parse_event(_body(document))

        assert event.data.totals.total == Decimal("336.83")  # type: ignore[union-attr]

    def test_more_than_28_digits_are_not_rounded_away(self) -> None:
        document = invoice_event()
        document["data"]["totals"]["total"] = "0." + "1" + "0" * 30 + "1"

        assert _paths(_body(document)) == {"data.totals.total"}

    @pytest.mark.parametrize(
        ("mutate", "path"),
        [
            (lambda d: d["line_items"][0].update(quantity="0"), "data.line_items.0.quantity"),
            (lambda d: d["line_items"][0].update(quantity=-1), "data.line_items.0.quantity"),
            (
                lambda d: d["line_items"][0]["taxes"][0].update(rate="101"),
                "data.line_items.0.taxes.0.rate",
            ),
            (
                lambda d: d["line_items"][0]["taxes"][0].update(inclusive="no"),
                "data.line_items.0.taxes.0.inclusive",
            ),
            (
                lambda d: d.update(discount={"type": "percentage", "value": "150"}),
                "data.discount.value",
            ),
            (
                lambda d: d.update(discount={"type": "fixed", "value": "1.005"}),
                "data.discount.value",
            ),
            (lambda d: d.update(discount={"type": "coupon", "value": "1"}), "data.discount.type"),
            (lambda d: d.update(currency="usd"), "data.currency"),
            (lambda d: d.update(currency="US"), "data.currency"),
            (lambda d: d.update(line_items=[]), "data.line_items"),
            (lambda d: d.update(status="archived"), "data.status"),
            (lambda d: d["contact"].update(email="not-an-email"), "data.contact.email"),
            (lambda d: d.update(billing_email="a@"), "data.billing_email"),
        ],
    )
    def test_other_numeric_and_enum_rules(self, mutate: Any, path: str) -> None:
        document = invoice_event()
        mutate(document["data"])

        assert _paths(_body(document)) == {path}

    def test_discount_may_be_null_or_absent(self) -> None:
        document = invoice_event()
        document["data"]["discount"] = None
        parse_event(_body(document))
        del document["data"]["discount"]
        parse_event(_body(document))


class TestDatesAndTimes:
    @pytest.mark.parametrize(
        "value", ["2026-5-2", "02/05/2026", "2026-02-30", "2026-05-02T00:00:00Z", 20260502, ""]
    )
    def test_bad_dates(self, value: Any) -> None:
        document = invoice_event()
        document["data"]["issue_date"] = value

        assert _paths(_body(document)) == {"data.issue_date"}

    @pytest.mark.parametrize(
        "value", ["2026-05-02T10:15:30", "2026-05-02 10:15:30Z", "2026-05-02", 1714644930, "soon"]
    )
    def test_bad_or_naive_timestamps(self, value: Any) -> None:
        document = invoice_event()
        document["occurred_at"] = value
        document["data"]["updated_at"] = value

        errors = _errors(_body(document))

        assert {e.path for e in errors} == {"occurred_at", "data.updated_at"}

    def test_naive_timestamp_message_asks_for_a_zone(self) -> None:
        document = payment_event()
        document["data"]["paid_at"] = "2026-05-03T11:59:58"

        (error,) = _errors(_body(document))

        assert error.path == "data.paid_at"
        assert "time zone" in error.message

    def test_nanoseconds_are_truncated_to_microseconds(self) -> None:
        document = contact_event()
        document["occurred_at"] = "2026-05-04T08:00:00.123456789-05:30"

        event = parse_event(_body(document))

        tz = timezone(-timedelta(hours=5, minutes=30))
        assert event.occurred_at == datetime(2026, 5, 4, 8, 0, 0, 123456, tzinfo=tz)


class TestStructure:
    def test_missing_required_fields_are_all_listed(self) -> None:
        document = invoice_event()
        for key in ("number", "currency", "totals"):
            del document["data"][key]
        del document["data"]["line_items"][0]["name"]
        del document["location_id"]

        assert _paths(_body(document)) == {
            "location_id",
            "data.number",
            "data.currency",
            "data.totals",
            "data.line_items.0.name",
        }

    def test_payment_totals_still_need_a_total(self) -> None:
        document = payment_event()
        del document["data"]["totals"]["total"]
        del document["data"]["payment_method"]

        assert _paths(_body(document)) == {"data.totals.total", "data.payment_method"}

    def test_invoice_payment_requires_invoice_id(self) -> None:
        document = payment_event()
        document["data"]["source"] = "invoice"

        assert _paths(_body(document)) == {"data.invoice_id"}

    def test_unknown_payment_source(self) -> None:
        document = payment_event()
        document["data"]["source"] = "paypal"

        assert _paths(_body(document)) == {"data.source"}

    @pytest.mark.parametrize("event_type", ["invoice.archived", "", "INVOICE.SENT", 7, None])
    def test_unknown_type_is_reported_at_type(self, event_type: Any) -> None:
        document = invoice_event()
        document["type"] = event_type

        (error,) = _errors(_body(document))

        assert error.path == "type"
        assert "invoice.sent" in error.message

    def test_missing_type(self) -> None:
        document = invoice_event()
        del document["type"]

        assert [(e.path, e.message) for e in _errors(_body(document))] == [
            ("type", "Field required")
        ]

    def test_data_of_the_wrong_shape_for_its_type(self) -> None:
        document = contact_event()
        document["type"] = "payment.succeeded"

        paths = _paths(_body(document))

        assert {"data.source", "data.paid_at", "data.totals"} <= paths

    @pytest.mark.parametrize("event_id", ["", "a" * 201, "has space", "tab\there"])
    def test_event_id_rules(self, event_id: str) -> None:
        document = contact_event()
        document["id"] = event_id

        assert _paths(_body(document)) == {"id"}

    def test_event_id_up_to_200_chars(self) -> None:
        document = contact_event()
        document["id"] = "a" * 200

        assert parse_event(_body(document)).id == "a" * 200

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b"\xff\xfe\x00",
            b'{"id": "x", "total": NaN}',
            b'{"id": 1' + b"1" * 5000 + b"}",
            b"[" * 50_000 + b"]" * 50_000,
            b"[]",
            b'"a string"',
            b"null",
            b"42",
        ],
    )
    def test_bodies_that_are_not_a_json_object(self, body: bytes) -> None:
        errors = _errors(body)

        assert [e.path for e in errors] == [""]
        assert "JSON" in errors[0].message

    def test_error_str_summarises_paths(self) -> None:
        document = invoice_event()
        document["data"]["totals"]["total"] = "abc"

        with pytest.raises(EventValidationError, match=r"data\.totals\.total"):
            parse_event(_body(document))


class TestCanonicalBodyHash:
    def test_whitespace_and_key_order_do_not_matter(self) -> None:
        document = invoice_event()
        compact = json.dumps(document, separators=(",", ":")).encode()
        pretty = json.dumps(dict(reversed(list(document.items()))), indent=4).encode()

        assert canonical_body_hash(compact) == canonical_body_hash(pretty)

    def test_nested_key_order_and_unicode_escapes_do_not_matter(self) -> None:
        a = b'{"b": {"y": 1, "x": "\\u00e9"}, "a": [1, 2]}'
        b = '{"a":[1,2],"b":{"x":"é","y":1}}'.encode()

        assert canonical_body_hash(a) == canonical_body_hash(b)

    @pytest.mark.parametrize(
        "change",
        [
            lambda d: d["data"]["totals"].update(total="336.84"),
            lambda d: d["data"]["line_items"].reverse(),
            lambda d: d.update(id="evt_other"),
            lambda d: d["data"].update(billing_email=None),
            lambda d: d["data"]["contact"].update(phone=""),
        ],
    )
    def test_any_value_change_changes_the_hash(self, change: Any) -> None:
        original = invoice_event()
        changed = copy.deepcopy(original)
        change(changed)

        assert canonical_body_hash(_body(original)) != canonical_body_hash(_body(changed))

    def test_numbers_keep_their_exact_text(self) -> None:
        assert canonical_body_hash(b'{"a": 0.1}') != canonical_body_hash(b'{"a": 0.10}')
        assert canonical_body_hash(b'{"a": 1}') != canonical_body_hash(b'{"a": "1"}')
        assert canonical_body_hash(b'{"a": 0.30000000000000001}') != canonical_body_hash(
            b'{"a": 0.3}'
        )

    def test_is_sha256_hex(self) -> None:
        digest = canonical_body_hash(b"{}")

        assert len(digest) == 64
        assert int(digest, 16) >= 0

    def test_invalid_json_hashes_without_raising(self) -> None:
        assert canonical_body_hash(b"not json") != canonical_body_hash(b"not json!")
        assert len(canonical_body_hash(b"[" * 100_000)) == 64


class TestRobustness:
    @pytest.mark.parametrize(
        ("raw", "paths"),
        [
            ("1e999999999", ["data.totals.total"]),
            ("-1e999999999", ["data.totals.total"]),
            ("1e-999999999", ["data.totals.total"]),
            ("1E+9999999999999999999", [""]),  # beyond what Decimal itself can hold
        ],
    )
    def test_extreme_exponents_fail_cleanly(self, raw: str, paths: list[str]) -> None:
        document = json.dumps(invoice_event()).replace('"total": "336.83"', f'"total": {raw}')

        assert [e.path for e in _errors(document.encode())] == paths

    def test_zero_with_a_long_exponent_is_zero(self) -> None:
        document = json.dumps(invoice_event()).replace('"total": "336.83"', '"total": 0e-1000')

        assert parse_event(document.encode()).data.totals.total == 0  # type: ignore[union-attr]

    @given(
        document=st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=12),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=20,
        ),
        event_type=st.sampled_from([*EVENT_TYPES, "other"]),
    )
    def test_arbitrary_data_only_ever_raises_event_validation_error(
        self, document: Any, event_type: str
    ) -> None:
        envelope = {**contact_event(), "type": event_type, "data": document}
        errors: list[FieldError] = []
        try:
            parse_event(_body(envelope))
        except EventValidationError as exc:
            errors = exc.errors or [FieldError("<none>", "")]

        assert all(e.path.startswith(("data", "type")) and e.message for e in errors)

    @given(mutation=st.sampled_from(["", "x", 0, -1, "1.001", None, [], {}, True, "2026-13-01"]))
    def test_any_single_leaf_replacement_is_handled(self, mutation: Any) -> None:
        for document in (invoice_event(), payment_event()):
            for key in ("issue_date", "paid_at", "currency", "contact", "totals", "line_items"):
                if key in document["data"]:
                    changed = copy.deepcopy(document)
                    changed["data"][key] = mutation
                    with pytest.raises(EventValidationError) as caught:
                        parse_event(_body(changed))
                    assert {e.path.split(".")[1] for e in caught.value.errors} == {key}
