import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.integrations.quickbooks.webhooks import (
    MAX_KEY_LENGTH,
    SIGNATURE_HEADER,
    EntityChange,
    ParsedNotification,
    WebhookFormatError,
    parse_notification,
    verify_signature,
)

# Verbatim copies of ../shared/reference/qbo-samples/webhook-*.json, so a fresh clone needs no
# sibling checkout; test_embedded_samples_match_the_reference_files guards against drift.
# The committed verbatim copies of the real samples (each .src.txt beside it names its source).
SAMPLES = Path(__file__).resolve().parents[2] / "emulator" / "samples"
BLOG_SAMPLE = (
    b'[\n  {\n    "specversion": "1.0",\n    "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",\n'
    b'    "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",\n'
    b'    "type": "qbo.account.created.v1",\n    "datacontenttype": "application/json",\n'
    b'    "time": "2025-09-10T21:31:25.179851517Z",\n    "intuitentityid": "1234",\n'
    b'    "intuitaccountid": "310687",\n    "data": {}\n  }\n]\n'
)
MERGED_SAMPLE = (
    b'[\n    {\n        "specversion": "1.0",\n'
    b'        "id": "********-****-****-****-************-Customer-123",\n'
    b'        "source": "intuit.********************************************",\n'
    b'        "type": "qbo.customer.merged.v1",\n        "datacontenttype": "application/json",\n'
    b'        "time": "2025-12-04T15:25:05Z",\n        "intuitentityid": "123",\n'
    b'        "intuitaccountid": "93414556*********",\n        "data": {\n'
    b'            "deletedid": "27"\n        }\n    }\n]\n'
)

# The qbo-api.md §7.3 legacy example, byte for byte as it would arrive (compact JSON).
LEGACY_BODY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":['
    b'{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"},'
    b'{"name":"Vendor","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)
TOKEN = "test-verifier-token"
# Computed independently: openssl dgst -sha256 -hmac test-verifier-token -binary | base64
LEGACY_SIGNATURE = "xMvZq0XOXz8783ivvI0gbFh4xUxzWynivXJ0omISVQM="

# Quoted in webhook-cloudevents-customer-merged.src.txt: no "data", no "datacontenttype".
SALESRECEIPT_NO_DATA = (
    b'[{"specversion":"1.0","id":"*********-****-****-****-************-SalesReceipt-150",'
    b'"source":"intuit.********************************************",'
    b'"type":"qbo.salesreceipt.updated.v1","time":"2026-03-17T16:19:17Z",'
    b'"intuitentityid":"150","intuitaccountid":"9341455*********"}]'
)
PDT = timezone(timedelta(hours=-7))


def _sig(body: bytes, token: str = TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def _cloudevent(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "intuit.abc",
        "type": "qbo.customer.updated.v1",
        "time": "2026-01-01T00:00:00Z",
        "intuitentityid": "58",
        "intuitaccountid": "310687",
    }
    event.update(overrides)
    return event


def _legacy(*notifications: tuple[Any, list[Any]]) -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {"realmId": realm, "dataChangeEvent": {"entities": entities}}
                for realm, entities in notifications
            ]
        }
    ).encode()


def _entity(name: str, entity_id: Any, op: str = "Update", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "id": entity_id,
        "operation": op,
        "lastUpdated": "2026-01-01T10:00:00.000Z",
        **extra,
    }


class TestVerifySignature:
    def test_header_name(self) -> None:
        assert SIGNATURE_HEADER == "intuit-signature"

    def test_known_vector(self) -> None:
        assert verify_signature(TOKEN, LEGACY_BODY, LEGACY_SIGNATURE)

    def test_signature_is_over_the_exact_raw_bytes(self) -> None:
        reserialised = json.dumps(json.loads(LEGACY_BODY), indent=2).encode()

        assert json.loads(reserialised) == json.loads(LEGACY_BODY)
        assert not verify_signature(TOKEN, reserialised, LEGACY_SIGNATURE)
        assert not verify_signature(TOKEN, LEGACY_BODY + b"\n", LEGACY_SIGNATURE)

    def test_wrong_token(self) -> None:
        assert not verify_signature("another-token", LEGACY_BODY, LEGACY_SIGNATURE)

    def test_tampered_body(self) -> None:
        tampered = LEGACY_BODY.replace(b'"id":"1"', b'"id":"2"', 1)

        assert not verify_signature(TOKEN, tampered, LEGACY_SIGNATURE)

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "   ",
            "not base64!!",
            "xMvZq0XOXz8783ivvI0gbFh4",  # valid base64, wrong length
            LEGACY_SIGNATURE[:-2],  # broken padding
            "é" * 44,
            LEGACY_SIGNATURE.lower(),
            base64.b64encode(hashlib.sha256(LEGACY_BODY).digest()).decode(),  # no key
        ],
    )
    def test_missing_or_garbage_header_is_false(self, header: str | None) -> None:
        assert verify_signature(TOKEN, LEGACY_BODY, header) is False

    def test_empty_token_never_verifies(self) -> None:
        assert not verify_signature("", LEGACY_BODY, _sig(LEGACY_BODY, ""))

    def test_surrounding_whitespace_in_header_is_tolerated(self) -> None:
        assert verify_signature(TOKEN, LEGACY_BODY, f" {LEGACY_SIGNATURE} ")

    def test_cloudevents_samples_sign_the_same_way(self) -> None:
        body = MERGED_SAMPLE

        assert verify_signature(TOKEN, body, _sig(body))


class TestCloudEventsSamples:
    @pytest.mark.parametrize(
        ("name", "embedded"),
        [
            ("webhook-cloudevents-blog-sample.json", BLOG_SAMPLE),
            ("webhook-cloudevents-customer-merged.json", MERGED_SAMPLE),
        ],
    )
    def test_embedded_samples_match_the_reference_files(self, name: str, embedded: bytes) -> None:
        assert (SAMPLES / name).read_bytes() == embedded

    def test_blog_sample(self) -> None:
        parsed = parse_notification(BLOG_SAMPLE)

        assert parsed.rejected == []
        assert parsed.changes == [
            EntityChange(
                realm_id="310687",
                entity="Account",
                entity_id="1234",
                operation="Create",
                occurred_at=datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC),
                deleted_id=None,
                dedupe_key="88cd52aa-33b6-4351-9aa4-47572edbd068",
                source_format="cloudevents",
            )
        ]

    def test_customer_merged_sample(self) -> None:
        parsed = parse_notification(MERGED_SAMPLE)

        (change,) = parsed.changes
        assert parsed.rejected == []
        assert change.entity == "Customer"
        assert change.entity_id == "123"
        assert change.operation == "Merge"
        assert change.deleted_id == "27"
        assert change.realm_id == "93414556*********"
        assert change.occurred_at == datetime(2025, 12, 4, 15, 25, 5, tzinfo=UTC)
        assert change.dedupe_key == "********-****-****-****-************-Customer-123"

    def test_salesreceipt_without_data_or_datacontenttype(self) -> None:
        parsed = parse_notification(SALESRECEIPT_NO_DATA)

        (change,) = parsed.changes
        assert parsed.rejected == []
        assert change.entity == "SalesReceipt"
        assert change.entity_id == "150"
        assert change.operation == "Update"
        assert change.deleted_id is None
        assert change.realm_id == "9341455*********"

    @pytest.mark.parametrize(
        ("verb", "operation"),
        [
            ("created", "Create"),
            ("updated", "Update"),
            ("deleted", "Delete"),
            ("merged", "Merge"),
            ("voided", "Void"),
            ("emailed", "Emailed"),
        ],
    )
    def test_verbs(self, verb: str, operation: str) -> None:
        body = json.dumps([_cloudevent(type=f"qbo.invoice.{verb}.v1")]).encode()

        (change,) = parse_notification(body).changes

        assert change.operation == operation

    @pytest.mark.parametrize(
        ("name", "entity"),
        [
            ("salesreceipt", "SalesReceipt"),
            ("billpayment", "BillPayment"),
            ("journalentry", "JournalEntry"),
            ("vendorcredit", "VendorCredit"),
            ("item", "Item"),
            ("payment", "Payment"),
            ("somethingnew", "Somethingnew"),
        ],
    )
    def test_entity_casing(self, name: str, entity: str) -> None:
        body = json.dumps([_cloudevent(type=f"qbo.{name}.created.v1")]).encode()

        (change,) = parse_notification(body).changes

        assert change.entity == entity

    def test_each_event_is_routed_by_its_own_realm(self) -> None:
        body = json.dumps(
            [_cloudevent(id="a", intuitaccountid="111"), _cloudevent(id="b", intuitaccountid="222")]
        ).encode()

        realms = [c.realm_id for c in parse_notification(body).changes]

        assert realms == ["111", "222"]

    def test_data_null_or_odd_is_treated_as_absent(self) -> None:
        body = json.dumps(
            [_cloudevent(id="a", data=None), _cloudevent(id="b", data=[1]), _cloudevent(id="c")]
        ).encode()

        parsed = parse_notification(body)

        assert [c.deleted_id for c in parsed.changes] == [None, None, None]
        assert parsed.rejected == []

    def test_long_event_id_is_hashed_into_a_bounded_key(self) -> None:
        body = json.dumps([_cloudevent(id="x" * 300)]).encode()

        (change,) = parse_notification(body).changes

        assert len(change.dedupe_key) <= MAX_KEY_LENGTH
        assert change.dedupe_key == "sha256:" + hashlib.sha256(b"x" * 300).hexdigest()

    def test_missing_time_gives_no_occurred_at(self) -> None:
        event = _cloudevent()
        del event["time"]

        (change,) = parse_notification(json.dumps([event]).encode()).changes

        assert change.occurred_at is None


class TestLegacy:
    def test_docs_example_with_two_entities(self) -> None:
        parsed = parse_notification(LEGACY_BODY)

        assert parsed.rejected == []
        assert [(c.entity, c.entity_id, c.operation) for c in parsed.changes] == [
            ("Customer", "1", "Create"),
            ("Vendor", "1", "Create"),
        ]
        first = parsed.changes[0]
        assert first.realm_id == "1185883450"
        assert first.occurred_at == datetime(2015, 10, 5, 14, 42, 19, tzinfo=PDT)
        assert first.source_format == "legacy"
        assert first.deleted_id is None
        assert first.dedupe_key == "1185883450:Customer:1:Create:2015-10-05T14:42:19-0700"

    def test_blog_legacy_equivalent_with_millis_and_z(self) -> None:
        body = (
            b'{"eventNotifications":[{"realmId":"310687","dataChangeEvent":{"entities":[{"id":'
            b'"1234","operation":"Create","name":"Account","lastUpdated":"2025-09-08T20:52:31.657Z"}]}}]}'
        )

        (change,) = parse_notification(body).changes

        assert change.occurred_at == datetime(2025, 9, 8, 20, 52, 31, 657000, tzinfo=UTC)
        assert (change.realm_id, change.entity, change.entity_id) == ("310687", "Account", "1234")

    def test_several_realms_each_with_several_entities(self) -> None:
        body = _legacy(
            ("111", [_entity("Customer", "1"), _entity("Invoice", "9", "Void")]),
            ("222", [_entity("Payment", "5", "Create"), _entity("Item", "7", "Delete")]),
        )

        parsed = parse_notification(body)

        assert [(c.realm_id, c.entity, c.entity_id, c.operation) for c in parsed.changes] == [
            ("111", "Customer", "1", "Update"),
            ("111", "Invoice", "9", "Void"),
            ("222", "Payment", "5", "Create"),
            ("222", "Item", "7", "Delete"),
        ]

    @pytest.mark.parametrize("key", ["deletedId", "deletedID"])
    def test_merge_deleted_id_both_spellings(self, key: str) -> None:
        body = _legacy(("111", [_entity("Customer", "5", "Merge", **{key: "27"})]))

        (change,) = parse_notification(body).changes

        assert (change.operation, change.deleted_id) == ("Merge", "27")

    def test_numeric_ids_become_strings_and_lower_case_names_are_fixed(self) -> None:
        body = _legacy((1185883450, [_entity("salesreceipt", 42, "create")]))

        (change,) = parse_notification(body).changes

        assert (change.realm_id, change.entity, change.entity_id) == (
            "1185883450",
            "SalesReceipt",
            "42",
        )
        assert change.operation == "Create"

    def test_unparsable_or_missing_time_keeps_the_change(self) -> None:
        no_time = _entity("Customer", "1")
        del no_time["lastUpdated"]
        body = _legacy(("111", [no_time, _entity("Customer", "2", lastUpdated="yesterday")]))

        parsed = parse_notification(body)

        assert [c.occurred_at for c in parsed.changes] == [None, None]
        assert parsed.changes[0].dedupe_key == "111:Customer:1:Update:"

    def test_naive_time_is_not_guessed(self) -> None:
        body = _legacy(("111", [_entity("Customer", "1", lastUpdated="2026-01-01T10:00:00")]))

        (change,) = parse_notification(body).changes

        assert change.occurred_at is None

    def test_long_legacy_key_is_hashed(self) -> None:
        # Ids fit their columns; the raw lastUpdated text makes the key long.
        long_time = "2026-01-01T10:00:00." + "0" * 200 + "Z"
        body = _legacy(("1" * 64, [_entity("Customer", "1" * 64, lastUpdated=long_time)]))

        (change,) = parse_notification(body).changes

        assert change.dedupe_key.startswith("sha256:")
        assert len(change.dedupe_key) <= MAX_KEY_LENGTH


class TestRejectionAndDedupe:
    def test_bad_legacy_entries_are_rejected_individually(self) -> None:
        body = _legacy(
            (
                "111",
                [
                    _entity("Customer", "1"),
                    {"name": "Customer", "operation": "Update"},  # no id
                    _entity("Customer", "3", "Explode"),
                    "not an object",
                    _entity("Customer", True),
                    _entity("Invoice", "4"),
                ],
            ),
            ("", [_entity("Customer", "9")]),  # no realm: the whole notification goes
        )

        parsed = parse_notification(body)

        assert [c.entity_id for c in parsed.changes] == ["1", "4"]
        assert len(parsed.rejected) == 5
        assert parsed.rejected[0].startswith("eventNotifications[0].dataChangeEvent.entities[1]")
        assert "id" in parsed.rejected[0]
        assert "operation" in parsed.rejected[1]
        assert parsed.rejected[4].startswith("eventNotifications[1]:")

    def test_bad_cloudevents_are_rejected_individually(self) -> None:
        no_realm = _cloudevent(id="c")
        del no_realm["intuitaccountid"]
        body = json.dumps(
            [
                _cloudevent(id="a"),
                {"id": "no-specversion"},
                _cloudevent(id="b", type="com.example.thing"),
                no_realm,
                _cloudevent(id="d", type="qbo.customer.exploded.v1"),
                _cloudevent(id=""),
                _cloudevent(id="e", intuitentityid=None),
                _cloudevent(id="f"),
            ]
        ).encode()

        parsed = parse_notification(body)

        assert [c.dedupe_key for c in parsed.changes] == ["a", "f"]
        assert [r.split(":")[0] for r in parsed.rejected] == [f"[{i}]" for i in range(1, 7)]

    def test_duplicate_cloudevents_collapse(self) -> None:
        body = json.dumps([_cloudevent(), _cloudevent(), _cloudevent(id="other")]).encode()

        parsed = parse_notification(body)

        assert [c.dedupe_key for c in parsed.changes] == ["ev-1", "other"]

    def test_duplicate_legacy_entries_collapse_across_notifications(self) -> None:
        same = _entity("Customer", "1")
        body = _legacy(("111", [same, same]), ("111", [same, _entity("Customer", "1", "Delete")]))

        parsed = parse_notification(body)

        assert [(c.entity_id, c.operation) for c in parsed.changes] == [
            ("1", "Update"),
            ("1", "Delete"),
        ]

    def test_same_entity_in_two_realms_is_two_changes(self) -> None:
        body = _legacy(("111", [_entity("Customer", "1")]), ("222", [_entity("Customer", "1")]))

        assert len(parse_notification(body).changes) == 2

    def test_changes_are_immutable(self) -> None:
        (change,) = parse_notification(SALESRECEIPT_NO_DATA).changes

        with pytest.raises(dataclasses.FrozenInstanceError):
            change.entity = "Invoice"  # type: ignore[misc]


class TestWholeBody:
    @pytest.mark.parametrize("body", [b"[]", b'{"eventNotifications": []}'])
    def test_empty_deliveries_are_valid(self, body: bytes) -> None:
        assert parse_notification(body) == ParsedNotification(changes=[], rejected=[])

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b"\xff",
            b"[" * 100_000,
            b"{}",
            b'{"foo": 1}',
            b'"eventNotifications"',
            b"null",
            b"[1, 2]",
            b'[{"id": "x"}]',
            b'{"eventNotifications": {"realmId": "1"}}',
        ],
    )
    def test_unusable_bodies_raise_format_error(self, body: bytes) -> None:
        with pytest.raises(WebhookFormatError):
            parse_notification(body)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
_KEYS = ["name", "id", "operation", "lastUpdated", "deletedId", "realmId", "dataChangeEvent"]
_CE_KEYS = ["specversion", "id", "type", "time", "intuitentityid", "intuitaccountid", "data"]


class TestRobustness:
    @given(header=st.text(max_size=80), body=st.binary(max_size=64))
    def test_verify_signature_never_raises(self, header: str, body: bytes) -> None:
        assert verify_signature(TOKEN, body, header) is False

    @given(body=st.binary(max_size=200))
    def test_random_bytes_raise_only_format_error(self, body: bytes) -> None:
        with contextlib.suppress(WebhookFormatError):
            parse_notification(body)

    @given(entries=st.lists(st.dictionaries(st.sampled_from(_KEYS), _JSON), max_size=4))
    def test_odd_legacy_entries_are_rejected_not_raised(self, entries: list[Any]) -> None:
        parsed = parse_notification(_legacy(("111", entries), ("222", entries)))

        assert len(parsed.changes) + len(parsed.rejected) <= 2 * len(entries)

    @given(events=st.lists(st.dictionaries(st.sampled_from(_CE_KEYS), _JSON), max_size=4))
    def test_odd_cloudevents_are_rejected_not_raised(self, events: list[Any]) -> None:
        body = json.dumps([_cloudevent(), *events]).encode()

        parsed = parse_notification(body)

        assert parsed.changes[0].dedupe_key == "ev-1"
        assert len(parsed.changes) + len(parsed.rejected) <= len(events) + 1

    def test_number_beyond_decimal_range_is_a_format_error(self) -> None:
        with pytest.raises(WebhookFormatError):
            parse_notification(b'{"eventNotifications": [], "x": 1E+9999999999999999999}')
