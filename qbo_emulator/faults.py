"""QBO faults: the exception the services raise and the exact bodies QBO sends."""

from __future__ import annotations

from typing import Any

from qbo_emulator.jsonutil import JSON

NOT_FOUND_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
DUPLICATE_NAME_DETAIL = (
    "The name supplied already exists. : Another customer, vendor or employee is already using "
    "this \\nname. Please use a different name."
)
THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"
AUTH_MESSAGE = "message=AuthenticationFailed; errorCode=003200; statusCode=401"


class QBOFault(Exception):  # noqa: N818 - named after QBO's own "Fault"
    """A business or system fault, rendered as QBO's Fault/Error JSON."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        status: int = 400,
        fault_type: str = "ValidationFault",
        element: str = "",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status
        self.fault_type = fault_type
        self.element = element

    def fault(self) -> JSON:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}

    def body(self, time: str) -> JSON:
        return {"Fault": self.fault(), "time": time}


def not_found() -> QBOFault:
    return QBOFault("610", "Object Not Found", NOT_FOUND_DETAIL)


def stale(user: str = "root") -> QBOFault:
    return QBOFault(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {user} were working on this at the same time. "
        f"{user} finished before you did, so your work was not saved.",
    )


def period_closed() -> QBOFault:
    """A transaction dated on or before the company's closing date. Code, Message and Detail
    (its unfilled "{1}" included) as a real QBO answered an Invoice create into a closed period,
    reported in routablehq/python-quickbooks issue #208; the HTTP status is UNKNOWN (400, as
    every ValidationFault)."""
    return QBOFault("5010", "Account Period Closed", "The account period has closed. {1}")


def duplicate_name(holder_id: str | None = None, element: str = "DisplayName") -> QBOFault:
    """6240. Current QBO names the holder ("The name supplied already exists. : Id=123",
    element DisplayName: tests/emulator/samples/fault-duplicate-name-6240.json)."""
    if holder_id is None:
        return QBOFault("6240", "Duplicate Name Exists Error", DUPLICATE_NAME_DETAIL)
    detail = f"The name supplied already exists. : Id={holder_id}"
    return QBOFault("6240", "Duplicate Name Exists Error", detail, element=element)


def duplicate_doc_number(doc: str, txn_type: str, txn_id: str) -> QBOFault:
    return QBOFault(
        "6140",
        "Duplicate Document Number Error",
        f"Duplicate Document Number Error : You must specify a different number. This number "
        f"has already been used. DocNumber={doc} is assigned to TxnType={txn_type} "
        f"with TxnId={txn_id}",
    )


def business(detail: str) -> QBOFault:
    return QBOFault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def amount_mismatch() -> QBOFault:
    return QBOFault(
        "6070",
        "Amount is not equal to UnitPrice * Qty",
        "Amount is not equal to UnitPrice * Qty. Supplied value:Amount",
    )


def required(element: str) -> QBOFault:
    return QBOFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_reference(element: str, value: str) -> QBOFault:
    return QBOFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} assigned is invalid: {value}",
        element=element,
    )


def invalid_field(element: str, detail: str) -> QBOFault:
    return QBOFault("2050", "Invalid String", detail, element=element)


def query_parse(detail: str) -> QBOFault:
    return QBOFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation(detail: str) -> QBOFault:
    return QBOFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def unsupported(detail: str) -> QBOFault:
    return QBOFault("500", "Unsupported Operation", f"Operation {detail} is not supported.")


def request_invalid(detail: str) -> QBOFault:
    return QBOFault("2010", "Request has invalid or unsupported property", detail)


def system_error() -> QBOFault:
    return QBOFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        status=500,
        fault_type="SystemFault",
    )


def throttle_json(time: str) -> JSON:
    error = {"Message": THROTTLE_MESSAGE, "Detail": THROTTLE_DETAIL, "code": "3001"}
    return {"Fault": {"Error": [error], "type": "SERVICE"}, "time": time}


def throttle_xml(time: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">'
        '<Fault type="SERVICE"><Error code="3001">'
        f"<Message>{THROTTLE_MESSAGE}</Message><Detail>{THROTTLE_DETAIL}</Detail>"
        "</Error></Fault></IntuitResponse>"
    ).encode()


def auth_failed(detail: str, epoch_ms: int) -> dict[str, Any]:
    """The 401 body: QBO's gateway uses a lowercase envelope, unlike every other fault."""
    error = {"message": AUTH_MESSAGE, "detail": detail, "code": "3200", "element": None}
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {"error": [error], "type": "AUTHENTICATION"},
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }


def authorization_failed(time: str) -> JSON:
    error = {
        "Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "Detail": "",
        "code": "3100",
        "element": "",
    }
    return {"Fault": {"Error": [error], "type": "AuthorizationFault"}, "time": time}
