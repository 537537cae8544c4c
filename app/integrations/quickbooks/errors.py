"""QBO faults as typed errors (qbo-api.md §3); the job runner retries by type alone.

Transient errors (5xx, timeouts, throttling, an expired access token) subclass `TransientError`;
everything a person must fix subclasses `PermanentError`. `error_from_response` reads every body
shape QBO is known to send: `Fault.Error[]` JSON, the gateway's lowercase 401 JSON, XML, HTML
and garbage, and HTTP 200 bodies that carry a `Fault`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from app.errors import AppError, PermanentError, TransientError

THROTTLE_DEFAULT_WAIT_S = 60.0
TID_HEADERS = ("intuit_tid", "intuit-tid")


@dataclass(frozen=True)
class FaultError:
    """One entry of a Fault's `Error` array."""

    code: str | None
    message: str
    detail: str | None
    element: str | None


class QboError(AppError):
    """A failed QBO call. The first fault entry fills the fields; `errors` holds all of them."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        fault_type: str | None = None,
        retry_after_s: float | None = None,
        errors: tuple[FaultError, ...] = (),
    ) -> None:
        super().__init__(_summary(code, message, detail))
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.element = element
        self.intuit_tid = intuit_tid
        self.fault_type = fault_type
        self.retry_after_s = retry_after_s
        self.errors = errors

    def in_context(self, context: str) -> QboError:
        """The same error (type, code, element, tid) with `context` before its message, so a
        sync-log entry says which step failed and the action stays the one for this fault."""
        return type(self)(
            f"{context}: {self.message}",
            status=self.status,
            code=self.code,
            detail=self.detail,
            element=self.element,
            intuit_tid=self.intuit_tid,
            fault_type=self.fault_type,
            retry_after_s=self.retry_after_s,
            errors=self.errors,
        )


class QboTransientError(QboError, TransientError):
    """5xx, timeouts, connection failures, unreadable 2xx bodies, QBO codes 500/10000."""


class QboThrottledError(QboTransientError):
    """429 / 3001 ThrottleExceeded; `retry_after_s` is Retry-After or QBO's documented 60 s."""


class QboAuthError(QboError, TransientError):
    """401 / 3200: the access token was refused; refresh it and retry."""


class QboAuthorizationError(QboError, PermanentError):
    """403 / 3100 / 120: the app or the user lost access to the company; needs a reconnect."""


class QboStaleObjectError(QboError, PermanentError):
    """5010: the SyncToken is stale. Callers re-read and reapply; the job runner must not retry."""


class QboPeriodClosedError(QboError, PermanentError):
    """5010 "Account Period Closed": the document is dated on or before the company's closing
    date. The same code as a stale SyncToken, told apart by its Message (a real answer:
    routablehq/python-quickbooks issue #208); re-reading and re-applying cannot help."""


class QboDuplicateNameError(QboError, PermanentError):
    """6240: the DisplayName is used by another customer, vendor or employee."""

    @property
    def holder_id(self) -> str | None:
        """The holder's Id when QBO names it: current details read "The name supplied already
        exists. : Id=123". Companies in other languages translate the words but keep `Id=`, so
        only that is read; an older text without it gives None (look the name up instead)."""
        match = re.search(r"\bId\s*=\s*(\d+)", self.detail or "")
        return match.group(1) if match else None


class QboDuplicateDocNumberError(QboError, PermanentError):
    """6140 (or 6210): the DocNumber is taken; `existing_txn_id` names the holder when QBO says."""

    @property
    def existing_txn_id(self) -> str | None:
        match = re.search(r"TxnId\s*=\s*(\w+)", self.detail or "")
        return match.group(1) if match else None

    @property
    def existing_txn_type(self) -> str | None:
        match = re.search(r"TxnType\s*=\s*(\w+)", self.detail or "")
        return match.group(1) if match else None


class QboNotFoundError(QboError, PermanentError):
    """610: the object, or something it references, is deleted or inactive."""


class QboValidationError(QboError, PermanentError):
    """Any other business fault (6000, 6070, 2020, 4000 query parser, ...)."""


def _summary(code: str | None, message: str, detail: str | None) -> str:
    head = f"QBO {code}: {message}" if code else f"QBO: {message}"
    return f"{head} ({detail})" if detail and detail != message else head


def error_from_response(status: int, headers: Mapping[str, str], body_text: str) -> QboError:
    """The typed error for a QBO response that failed, or a 2xx whose body carries a Fault."""
    tid = _header(headers, *TID_HEADERS)
    retry_after = _retry_after(_header(headers, "retry-after"))
    fault = _fault_from_json(body_text)
    if fault is None:
        fault = _fault_from_xml(body_text)
    if fault is not None:
        return error_from_fault(fault, status=status, intuit_tid=tid, retry_after_s=retry_after)
    return _error_without_fault(status, tid, retry_after)


def error_from_fault(
    fault: Mapping[str, Any],
    *,
    status: int | None,
    intuit_tid: str | None,
    retry_after_s: float | None = None,
) -> QboError:
    """The typed error for a `Fault` object (either key casing), as in bodies and batch items."""
    errors = _fault_errors(fault)
    first = errors[0] if errors else FaultError(None, "QBO returned a fault", None, None)
    fault_type = _text(_get(fault, "type"))
    cls = _classify(status, first, fault_type)
    if cls is QboThrottledError:
        retry_after_s = retry_after_s or THROTTLE_DEFAULT_WAIT_S
    return cls(
        first.message,
        status=status,
        code=first.code,
        detail=first.detail,
        element=first.element,
        intuit_tid=intuit_tid,
        fault_type=fault_type,
        retry_after_s=retry_after_s,
        errors=errors,
    )


def _classify(status: int | None, first: FaultError, fault_type: str | None) -> type[QboError]:
    code = (first.code or "").lstrip("0")
    text = f"{first.message} {first.detail or ''}"
    if status == 429 or code == "3001" or "ThrottleExceeded" in text:
        return QboThrottledError
    if status == 403 or code in {"3100", "120"}:
        return QboAuthorizationError
    if status == 401 or code == "3200":
        return QboAuthError
    if code == "5010" and "period closed" in first.message.lower():
        return QboPeriodClosedError
    by_code = _BY_CODE.get(code)
    if by_code is not None:
        return by_code
    if "Duplicate Document Number" in first.message:
        return QboDuplicateDocNumberError
    if (status is not None and status >= 500) or code in {"500", "10000"}:
        return QboTransientError
    return QboValidationError


_BY_CODE: dict[str, type[QboError]] = {
    "5010": QboStaleObjectError,
    "6240": QboDuplicateNameError,
    "6140": QboDuplicateDocNumberError,
    "610": QboNotFoundError,
}


def _error_without_fault(status: int, tid: str | None, retry_after: float | None) -> QboError:
    fields: dict[str, Any] = {"status": status, "intuit_tid": tid, "retry_after_s": retry_after}
    if status == 429:
        fields["retry_after_s"] = retry_after or THROTTLE_DEFAULT_WAIT_S
        return QboThrottledError("HTTP 429 from QBO", **fields)
    if status == 401:
        return QboAuthError("HTTP 401 from QBO", **fields)
    if status == 403:
        return QboAuthorizationError("HTTP 403 from QBO", **fields)
    if 400 <= status < 500:
        return QboValidationError(f"HTTP {status} from QBO with an unreadable body", **fields)
    # 5xx, and a 2xx we could not read: the request may or may not have run; retry (requestid).
    return QboTransientError(f"HTTP {status} from QBO with an unreadable body", **fields)


def _fault_from_json(body_text: str) -> Mapping[str, Any] | None:
    try:
        body = json.loads(body_text, parse_float=Decimal)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    fault = _get(body, "Fault")
    return fault if isinstance(fault, dict) and fault else None


_XML_FAULT = re.compile(r"<Fault\b([^>]*)>(.*?)</Fault>", re.S)
_XML_ERROR = re.compile(r"<Error\b([^>]*)>(.*?)</Error>", re.S)
_XML_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def _fault_from_xml(body_text: str) -> Mapping[str, Any] | None:
    # Regexes rather than an XML parser: the bodies are tiny and fixed, and this never expands
    # entities from a body we do not control.
    fault = _XML_FAULT.search(body_text)
    if fault is None:
        return None
    errors = []
    for attrs, inner in _XML_ERROR.findall(fault.group(2)):
        attr = dict(_XML_ATTR.findall(attrs))
        errors.append(
            {
                "code": attr.get("code"),
                "element": attr.get("element"),
                "Message": _xml_child(inner, "Message"),
                "Detail": _xml_child(inner, "Detail"),
            }
        )
    return {"type": dict(_XML_ATTR.findall(fault.group(1))).get("type"), "Error": errors}


def _xml_child(inner: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", inner, re.S)
    return html.unescape(match.group(1)) if match else None


def _fault_errors(fault: Mapping[str, Any]) -> tuple[FaultError, ...]:
    raw = _get(fault, "Error")
    entries = raw if isinstance(raw, list) else []
    return tuple(
        FaultError(
            code=_text(_get(entry, "code")),
            message=_text(_get(entry, "Message")) or "QBO returned a fault",
            detail=_text(_get(entry, "Detail")),
            element=_text(_get(entry, "element")) or None,
        )
        for entry in entries
        if isinstance(entry, dict)
    )


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """QBO's gateway lowercases keys on 401 bodies (`fault.error[].message`); accept both."""
    if key in mapping:
        return mapping[key]
    return mapping.get(key[0].lower() + key[1:])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    wanted = {name.lower() for name in names}
    for key, value in headers.items():
        if key.lower() in wanted:
            return value
    return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_ACTION_BY_CODE: dict[str, str] = {
    "6000": "QuickBooks rejected this under one of its business rules{detail}. Fix the cause in "
    "QuickBooks (for example a closed books period or a turned-off feature), then retry.",
    "6070": "A line's amount does not equal quantity x unit price rounded to cents. Correct the "
    "line, then retry.",
    "6190": "The QuickBooks subscription for this company has ended. Reactivate it, then retry.",
    "4000": "QuickBooks could not parse a query this service built. Report it with the "
    "intuit_tid; retrying will not help.",
    "4001": "QuickBooks refused a query this service built. Report it with the intuit_tid; "
    "retrying will not help.",
}


def action_for(error: QboError) -> str:
    """A short, plain-English step a person can take, for sync logs and the CRM."""
    detail = f" ({error.detail})" if error.detail else ""
    if isinstance(error, QboThrottledError):
        return "QuickBooks is limiting requests for this company. Nothing to do; it will retry."
    if isinstance(error, QboTransientError):
        return "QuickBooks is temporarily unavailable. Nothing to do; it will retry."
    if isinstance(error, QboAuthError):
        return "QuickBooks refused the sign-in. If this persists, reconnect QuickBooks."
    if isinstance(error, QboAuthorizationError):
        return (
            "This app no longer has access to the QuickBooks company (disconnected, or the user "
            "lost admin rights). An admin must reconnect QuickBooks."
        )
    if isinstance(error, QboPeriodClosedError):
        return (
            "The books are closed for this document's date in QuickBooks. Move the closing date "
            "(Settings → Account and settings → Advanced → Accounting → Close the books) or the "
            "document's date, then retry."
        )
    if isinstance(error, QboStaleObjectError):
        return "Someone changed this record in QuickBooks at the same time. Retry to reapply."
    if isinstance(error, QboDuplicateNameError):
        return (
            "Another customer, vendor or employee already uses this name in QuickBooks (it may "
            "be inactive). Rename or merge one of them, then retry."
        )
    if isinstance(error, QboDuplicateDocNumberError):
        held_by = f" by transaction {error.existing_txn_id}" if error.existing_txn_id else ""
        return (
            f"This document number is already used in QuickBooks{held_by}. Check for a duplicate."
        )
    if isinstance(error, QboNotFoundError):
        return (
            "A record this refers to was deleted or made inactive in QuickBooks. Reactivate it "
            "or choose another, then retry."
        )
    template = _ACTION_BY_CODE.get((error.code or "").lstrip("0"))
    if template is not None:
        return template.format(detail=detail)
    field = f" in {error.element}" if error.element else ""
    return f"QuickBooks rejected the data{field}{detail}. Correct it, then retry."
