"""QBO webhook signature check and payload parsing, legacy and CloudEvents (qbo-api.md §7).

Notifications carry only ids; each becomes an :class:`EntityChange` that the sync layer turns into
a read of the current entity. Parsing never raises for one bad entry: it is skipped and its reason
kept, because answering anything but 200 makes Intuit retry the whole batch and block later ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from app.models.qbo_change import (
    DEDUPE_KEY_LENGTH,
    ENTITY_ID_LENGTH,
    ENTITY_LENGTH,
    REALM_ID_LENGTH,
)
from app.text_rules import nul_path, unstorable

SIGNATURE_HEADER = "intuit-signature"

# What the stored change's columns hold: an entry with a longer value is refused alone, since
# one row that cannot be stored would fail the statement that stores the whole delivery.
MAX_KEY_LENGTH = DEDUPE_KEY_LENGTH
_MAX_EVENT_ID_LENGTH = 2048

# Every entity qbo-api.md §7.2 lists, keyed by the lower-case name CloudEvents types use.
QBO_ENTITIES: dict[str, str] = {
    name.lower(): name
    for name in (
        "Account",
        "Bill",
        "BillPayment",
        "Budget",
        "Class",
        "CreditMemo",
        "Currency",
        "Customer",
        "Department",
        "Deposit",
        "Employee",
        "Estimate",
        "Invoice",
        "Item",
        "JournalCode",
        "JournalEntry",
        "Payment",
        "PaymentMethod",
        "Preferences",
        "Purchase",
        "PurchaseOrder",
        "RefundReceipt",
        "SalesReceipt",
        "TaxAgency",
        "Term",
        "TimeActivity",
        "Transfer",
        "Vendor",
        "VendorCredit",
    )
}

_OPERATIONS = ("Create", "Update", "Delete", "Merge", "Void", "Emailed")
_LEGACY_OPERATIONS = {op.lower(): op for op in _OPERATIONS}
_CLOUDEVENT_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}

_CLOUDEVENT_TYPE_RE = re.compile(r"qbo\.([a-z0-9_]+)\.([a-z_]+)\.v[0-9]+", re.IGNORECASE)
_TIME_RE = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:[.,]([0-9]+))?"
    r"\s*([Zz]|[+-][0-9]{2}:?[0-9]{2})"
)

# "cdc": the change was found by a change-data-capture poll, not announced by a webhook.
SourceFormat = Literal["legacy", "cloudevents", "cdc"]


@dataclass(frozen=True, slots=True)
class EntityChange:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime | None
    deleted_id: str | None
    dedupe_key: str
    source_format: SourceFormat


@dataclass
class ParsedNotification:
    changes: list[EntityChange] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


class WebhookFormatError(Exception):
    """The body is not JSON, or is neither the legacy nor the CloudEvents shape."""


class _EntryError(Exception):
    """One entry is unusable; the message becomes a ``rejected`` reason."""


def verify_signature(verifier_token: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is base64(HMAC-SHA256(token, raw body)); never raises."""
    if not verifier_token or not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def parse_qbo_time(value: object) -> datetime | None:
    """Parse QBO's timestamp variants to an aware datetime; None when absent, zoneless or odd.

    Handles ``2015-10-05T14:42:19-0700``, ``...19.657Z`` and nanosecond CloudEvents ``time``
    (truncated to microseconds, all datetime can hold).
    """
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    if zone in ("Z", "z"):
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micros}{zone}")
    except ValueError:
        return None


def _entity_name(raw: str, *, exact_case_given: bool) -> str:
    known = QBO_ENTITIES.get(raw.lower())
    if known is not None:
        return known
    if len(raw) > ENTITY_LENGTH:
        raise _EntryError(f"name is too long ({len(raw)} characters, at most {ENTITY_LENGTH})")
    # Legacy names already use QBO casing; CloudEvents lower-cases them, so guess the usual form.
    return raw if exact_case_given else raw[:1].upper() + raw[1:]


def _refuse_nul(entry: dict[str, Any]) -> None:
    bad = nul_path(entry)
    if bad is not None:
        raise _EntryError(f"{bad} contains a NUL character or an unpaired surrogate")


def _identifier(value: object, what: str, max_length: int = ENTITY_ID_LENGTH) -> str:
    # QBO ids are strings, but some senders emit numbers; bool is an int and is not an id.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or unstorable(value):
        raise _EntryError(f"missing or invalid {what}")
    value = value.strip()
    if len(value) > max_length:
        raise _EntryError(f"{what} is too long ({len(value)} characters, at most {max_length})")
    return value


def _optional_identifier(value: object, what: str) -> str | None:
    return None if value is None or value == "" else _identifier(value, what)


def _bounded_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _legacy_change(realm_id: str, entry: object) -> EntityChange:
    if not isinstance(entry, dict):
        raise _EntryError("entity is not an object")
    _refuse_nul(entry)
    name = _identifier(entry.get("name"), "name", ENTITY_LENGTH)
    entity_id = _identifier(entry.get("id"), "id")
    raw_operation = entry.get("operation")
    operation = (
        _LEGACY_OPERATIONS.get(raw_operation.lower()) if isinstance(raw_operation, str) else None
    )
    if operation is None:
        raise _EntryError("missing or unknown operation")
    entity = _entity_name(name, exact_case_given=True)
    last_updated = entry.get("lastUpdated")
    raw_time = last_updated if isinstance(last_updated, str) else ""
    deleted = entry.get("deletedId", entry.get("deletedID"))
    return EntityChange(
        realm_id=realm_id,
        entity=entity,
        entity_id=entity_id,
        operation=operation,
        occurred_at=parse_qbo_time(last_updated),
        deleted_id=_optional_identifier(deleted, "deletedId"),
        dedupe_key=_bounded_key(f"{realm_id}:{entity}:{entity_id}:{operation}:{raw_time}"),
        source_format="legacy",
    )


def _legacy_entries(notification: object) -> tuple[str, list[object]]:
    if not isinstance(notification, dict):
        raise _EntryError("notification is not an object")
    realm_id = _identifier(notification.get("realmId"), "realmId", REALM_ID_LENGTH)
    event = notification.get("dataChangeEvent")
    entities = event.get("entities") if isinstance(event, dict) else None
    if not isinstance(entities, list):
        raise _EntryError("dataChangeEvent.entities is not a list")
    return realm_id, entities


def _parse_legacy(notifications: object, result: ParsedNotification) -> None:
    if not isinstance(notifications, list):
        raise WebhookFormatError("eventNotifications is not a list")
    for n, notification in enumerate(notifications):
        where = f"eventNotifications[{n}]"
        try:
            realm_id, entities = _legacy_entries(notification)
        except _EntryError as exc:
            result.rejected.append(f"{where}: {exc}")
            continue
        for e, entry in enumerate(entities):
            try:
                result.changes.append(_legacy_change(realm_id, entry))
            except _EntryError as exc:
                result.rejected.append(f"{where}.dataChangeEvent.entities[{e}]: {exc}")


def _cloudevent_change(event: object) -> EntityChange:
    if not isinstance(event, dict) or "specversion" not in event:
        raise _EntryError("not a CloudEvent (no specversion)")
    _refuse_nul(event)
    # Event ids only feed the dedupe key, which is hashed when long, so they may exceed 255.
    event_id = _identifier(event.get("id"), "id", max_length=_MAX_EVENT_ID_LENGTH)
    event_type = event.get("type")
    match = _CLOUDEVENT_TYPE_RE.fullmatch(event_type) if isinstance(event_type, str) else None
    if match is None:
        raise _EntryError("type is not qbo.<entity>.<verb>.v<n>")
    operation = _CLOUDEVENT_VERBS.get(match[2].lower())
    if operation is None:
        raise _EntryError(f"unknown verb {match[2][:40]!r}")
    data = event.get("data")
    deleted = data.get("deletedid", data.get("deletedId")) if isinstance(data, dict) else None
    return EntityChange(
        realm_id=_identifier(event.get("intuitaccountid"), "intuitaccountid", REALM_ID_LENGTH),
        entity=_entity_name(match[1], exact_case_given=False),
        entity_id=_identifier(event.get("intuitentityid"), "intuitentityid"),
        operation=operation,
        occurred_at=parse_qbo_time(event.get("time")),
        deleted_id=_optional_identifier(deleted, "data.deletedid"),
        dedupe_key=_bounded_key(event_id),
        source_format="cloudevents",
    )


def _parse_cloudevents(events: list[Any], result: ParsedNotification) -> None:
    if events and not any(isinstance(e, dict) and "specversion" in e for e in events):
        raise WebhookFormatError("array body holds no CloudEvents (no specversion)")
    for n, event in enumerate(events):
        try:
            result.changes.append(_cloudevent_change(event))
        except _EntryError as exc:
            result.rejected.append(f"[{n}]: {exc}")


def _without_duplicates(changes: list[EntityChange]) -> list[EntityChange]:
    unique: dict[str, EntityChange] = {}
    for change in changes:
        unique.setdefault(change.dedupe_key, change)
    return list(unique.values())


def parse_notification(body: bytes) -> ParsedNotification:
    """Split a webhook body into entity changes, deduplicated, skipping (and naming) bad entries.

    Raises :class:`WebhookFormatError` only when the body as a whole is unusable.
    """
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError, ArithmeticError) as exc:
        # ArithmeticError: Decimal refuses exponents like 1E+99999999999999.
        raise WebhookFormatError("body is not valid JSON") from exc
    result = ParsedNotification()
    if isinstance(document, dict) and "eventNotifications" in document:
        _parse_legacy(document["eventNotifications"], result)
    elif isinstance(document, list):
        _parse_cloudevents(document, result)
    else:
        raise WebhookFormatError("body is neither legacy eventNotifications nor CloudEvents")
    result.changes = _without_duplicates(result.changes)
    return result
