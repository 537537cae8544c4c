from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from app.errors import PermanentError, TransientError
from app.integrations.quickbooks.errors import (
    QboAuthError,
    QboAuthorizationError,
    QboDuplicateDocNumberError,
    QboDuplicateNameError,
    QboError,
    QboNotFoundError,
    QboPeriodClosedError,
    QboStaleObjectError,
    QboThrottledError,
    QboTransientError,
    QboValidationError,
    action_for,
    error_from_response,
)

# The committed verbatim copies of the real samples (each .src.txt beside it names its source).
SAMPLES = Path(__file__).resolve().parents[2] / "emulator" / "samples"
TID = {"intuit_tid": "1-abc-tid"}

# Verbatim qbo-samples/fault-object-not-found-610.json (a real captured 400 body).
FAULT_610 = (
    '{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : Something '
    "you're trying to use has been made inactive. Check the fields with accounts, customers, "
    'items, vendors or employees.","code":"610","element":""}],"type":"ValidationFault"},'
    '"time":"2018-03-20T20:15:59.571-07:00"}\n'
)
# qbo-api.md §3.1: the gateway's lowercase 401 body.
LOWERCASE_401 = (
    '{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message='
    'AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired: AB0x",'
    '"code":"3200","element":null}],"type":"AUTHENTICATION"},"report":null,"queryResponse":null,'
    '"batchItemResponse":[],"attachableResponse":[],"syncErrorResponse":null,"requestId":null,'
    '"time":1730024394085,"status":null,"cdcresponse":[]}'
)
THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-01-01T00:00:00-08:00">'
    '<Fault type="SERVICE"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "<Detail>The request limit was reached.  Try again later</Detail>"
    "</Error></Fault></IntuitResponse>"
)
THROTTLE_JSON = json.dumps(
    {
        "Fault": {
            "Error": [
                {
                    "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    "Detail": "The request limit was reached.  Try again later",
                    "code": "3001",
                }
            ],
            "type": "SERVICE",
        }
    }
)


def fault(code: str, message: str, detail: str = "", element: str = "") -> str:
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    return json.dumps({"Fault": {"Error": [error], "type": "ValidationFault"}, "time": "t"})


class TestErrorTypes:
    @pytest.mark.parametrize(
        ("cls", "base"),
        [
            (QboTransientError, TransientError),
            (QboThrottledError, TransientError),
            (QboAuthError, TransientError),
            (QboAuthorizationError, PermanentError),
            (QboStaleObjectError, PermanentError),
            (QboDuplicateNameError, PermanentError),
            (QboDuplicateDocNumberError, PermanentError),
            (QboNotFoundError, PermanentError),
            (QboValidationError, PermanentError),
        ],
    )
    def test_the_job_runner_sees_the_right_base(self, cls: type[QboError], base: type) -> None:
        other = PermanentError if base is TransientError else TransientError
        assert issubclass(cls, QboError)
        assert issubclass(cls, base)
        assert not issubclass(cls, other)

    def test_transient_errors_carry_retry_after(self) -> None:
        error = QboThrottledError("x", retry_after_s=60)
        assert isinstance(error, TransientError)
        assert error.retry_after_s == 60


class TestErrorFromResponse:
    def test_real_610_sample(self) -> None:
        error = error_from_response(400, TID, FAULT_610)
        assert type(error) is QboNotFoundError
        assert (error.status, error.code, error.message) == (400, "610", "Object Not Found")
        assert error.detail is not None
        assert error.detail.startswith("Object Not Found : ")
        assert error.element is None  # QBO sends "" for "no element"
        assert (error.fault_type, error.intuit_tid) == ("ValidationFault", "1-abc-tid")

    def test_embedded_610_matches_the_reference_file(self) -> None:
        assert (SAMPLES / "fault-object-not-found-610.json").read_text() == FAULT_610

    def test_stale_object_5010(self) -> None:
        body = fault("5010", "Stale Object Error", "Stale Object Error : You and root", "SyncToken")
        error = error_from_response(400, {"Intuit_Tid": "tid-9"}, body)
        assert type(error) is QboStaleObjectError
        assert (error.code, error.message, error.element) == (
            "5010",
            "Stale Object Error",
            "SyncToken",
        )
        assert error.intuit_tid == "tid-9"  # header names are case-insensitive

    def test_period_closed_5010_is_not_a_stale_sync_token(self) -> None:
        # The fields a real QBO answer carried (routablehq/python-quickbooks issue #208).
        body = fault("5010", "Account Period Closed", "The account period has closed. {1}")
        error = error_from_response(400, {}, body)
        assert type(error) is QboPeriodClosedError
        assert isinstance(error, PermanentError)
        assert "closing date" in action_for(error)

    def test_duplicate_name_6240(self) -> None:
        error = error_from_response(400, {}, fault("6240", "Duplicate Name Exists Error"))
        assert type(error) is QboDuplicateNameError

    def test_duplicate_doc_number_6140_with_txn_id(self) -> None:
        detail = (
            "Duplicate Document Number Error : You must specify a different number. This number "
            "has already been used. DocNumber=18696 is assigned to TxnType=Invoice with TxnId=6575"
        )
        error = error_from_response(
            400, {}, fault("6140", "Duplicate Document Number Error", detail)
        )
        assert isinstance(error, QboDuplicateDocNumberError)
        assert (error.existing_txn_id, error.existing_txn_type) == ("6575", "Invoice")

    def test_duplicate_doc_number_by_message_under_another_code(self) -> None:
        error = error_from_response(400, {}, fault("6210", "Duplicate Document Number Error"))
        assert isinstance(error, QboDuplicateDocNumberError)
        assert error.existing_txn_id is None

    @pytest.mark.parametrize(
        ("code", "message"),
        [
            ("6000", "A business validation error has occurred while processing your request"),
            ("6070", "Amount is not equal to UnitPrice * Qty"),
            ("4000", "Error parsing query"),
            ("2020", "Required param missing, need to supply the required value for the API"),
        ],
    )
    def test_other_business_faults_are_validation(self, code: str, message: str) -> None:
        error = error_from_response(400, {}, fault(code, message, "why"))
        assert type(error) is QboValidationError
        assert (error.code, error.detail) == (code, "why")

    def test_lowercase_401_body(self) -> None:
        error = error_from_response(401, TID, LOWERCASE_401)
        assert type(error) is QboAuthError
        assert (error.code, error.fault_type) == ("3200", "AUTHENTICATION")
        assert error.message.startswith("message=AuthenticationFailed")

    def test_code_3200_is_auth_whatever_the_status(self) -> None:
        body = fault("3200", "message=AuthenticationFailed; errorCode=003200")
        assert type(error_from_response(400, {}, body)) is QboAuthError

    def test_403_3100_needs_reconnect(self) -> None:
        body = fault("3100", "message=ApplicationAuthorizationFailed; errorCode=003100")
        assert type(error_from_response(403, {}, body)) is QboAuthorizationError

    def test_code_120_is_authorization_even_on_401(self) -> None:
        body = fault("120", "Authorization Failure", "-11014-You do not have access")
        assert type(error_from_response(401, {}, body)) is QboAuthorizationError

    def test_xml_throttle_body(self) -> None:
        error = error_from_response(429, TID, THROTTLE_XML)
        assert type(error) is QboThrottledError
        assert (error.code, error.fault_type, error.retry_after_s) == ("3001", "SERVICE", 60)
        assert error.detail == "The request limit was reached.  Try again later"

    def test_json_throttle_body_with_retry_after_seconds(self) -> None:
        error = error_from_response(429, {"Retry-After": "17"}, THROTTLE_JSON)
        assert isinstance(error, QboThrottledError)
        assert error.retry_after_s == 17

    def test_retry_after_as_http_date(self) -> None:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
        error = error_from_response(429, {"retry-after": when}, "")
        assert error.retry_after_s is not None
        assert 100 < error.retry_after_s <= 120

    def test_throttle_code_without_429_status(self) -> None:
        assert isinstance(error_from_response(200, {}, THROTTLE_JSON), QboThrottledError)

    def test_xml_entities_are_unescaped_and_not_expanded(self) -> None:
        body = '<Fault type="ValidationFault"><Error code="6000" element="Line">'
        body += "<Message>A &amp; B</Message><Detail>&lt;x&gt;</Detail></Error></Fault>"
        error = error_from_response(400, {}, body)
        assert type(error) is QboValidationError
        assert (error.message, error.detail, error.element) == ("A & B", "<x>", "Line")

    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (502, QboTransientError),
            (503, QboTransientError),
            (429, QboThrottledError),
            (401, QboAuthError),
            (403, QboAuthorizationError),
            (404, QboValidationError),
            (400, QboValidationError),
            (200, QboTransientError),
        ],
    )
    def test_html_and_garbage_bodies_by_status(self, status: int, cls: type[QboError]) -> None:
        for body in ("<html><body>Bad Gateway</body></html>", "", "not json {", "[1,2]", "null"):
            error = error_from_response(status, TID, body)
            assert type(error) is cls
            assert (error.status, error.intuit_tid) == (status, "1-abc-tid")

    def test_503_retry_after_is_kept_on_transient(self) -> None:
        error = error_from_response(503, {"Retry-After": "5"}, "")
        assert type(error) is QboTransientError
        assert error.retry_after_s == 5

    def test_system_fault_codes_are_transient_even_on_400(self) -> None:
        assert type(error_from_response(500, {}, fault("10000", "app error"))) is QboTransientError
        assert type(error_from_response(400, {}, fault("500", "Unsupported Operation"))) is (
            QboTransientError
        )

    def test_200_with_fault_is_typed(self) -> None:
        error = error_from_response(200, {}, fault("6000", "Business", "Books are closed"))
        assert type(error) is QboValidationError
        assert error.status == 200

    def test_every_error_entry_is_kept(self) -> None:
        body = {
            "Fault": {
                "Error": [
                    {"Message": "A", "code": "2020", "element": "Line"},
                    {"Message": "B", "code": "2050", "element": "Name"},
                ],
                "type": "ValidationFault",
            }
        }
        error = error_from_response(400, {}, json.dumps(body))
        assert [e.code for e in error.errors] == ["2020", "2050"]
        assert error.element == "Line"

    def test_str_is_a_useful_summary(self) -> None:
        error = error_from_response(400, {}, fault("6240", "Duplicate Name Exists Error", "taken"))
        assert str(error) == "QBO 6240: Duplicate Name Exists Error (taken)"


class TestActionFor:
    def test_duplicate_name(self) -> None:
        action = action_for(error_from_response(400, {}, fault("6240", "Duplicate Name")))
        assert action.startswith("Another customer, vendor or employee already uses this name")

    def test_duplicate_doc_number_names_the_holder(self) -> None:
        body = fault(
            "6140", "Duplicate Document Number Error", "DocNumber=1 TxnType=Invoice TxnId=77"
        )
        assert "transaction 77" in action_for(error_from_response(400, {}, body))

    def test_business_rule_carries_the_detail(self) -> None:
        body = fault("6000", "A business validation error", "The books are closed")
        assert "The books are closed" in action_for(error_from_response(400, {}, body))

    def test_every_kind_has_its_own_sentence(self) -> None:
        errors = [
            error_from_response(429, {}, ""),
            error_from_response(503, {}, ""),
            error_from_response(401, {}, ""),
            error_from_response(403, {}, ""),
            error_from_response(400, {}, fault("5010", "Stale")),
            error_from_response(400, {}, fault("6240", "Dup")),
            error_from_response(400, {}, fault("6140", "Duplicate Document Number Error")),
            error_from_response(400, {}, fault("610", "Not found")),
            error_from_response(400, {}, fault("6070", "Amount")),
            error_from_response(400, {}, fault("6190", "Company")),
            error_from_response(400, {}, fault("4000", "Error parsing query")),
            error_from_response(400, {}, fault("2050", "Invalid String", element="Name")),
        ]
        actions = [action_for(error) for error in errors]
        assert all(action and action.endswith(".") for action in actions)
        assert len(set(actions)) == len(actions)
        assert "in Name" in actions[-1]
