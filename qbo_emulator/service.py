"""Entity lifecycle shared by every entity: create, read, update, delete, void."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qbo_emulator import faults, schema
from qbo_emulator.jsonutil import JSON
from qbo_emulator.state import Emulator
from qbo_emulator.store import NAME_LIST, SINGLETONS, TRANSACTIONS, Company, Record

SYSTEM_KEYS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})

Prepare = Callable[[Emulator, Company, JSON, JSON, "Record | None"], None]
After = Callable[[Emulator, Company, JSON, "JSON | None"], None]
Hook = Callable[[Emulator, Company, Record], None]


@dataclass(frozen=True)
class Handler:
    prepare: Prepare
    after: After | None = None
    on_delete: Hook | None = None
    on_void: Hook | None = None


HANDLERS: dict[str, Handler] = {}


def register(entity: str, handler: Handler) -> None:
    HANDLERS[entity] = handler


def clean(value: Any) -> Any:
    """Drop what clients send for "not set": None, "" and empty lists (python-quickbooks does)."""
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != "" and v != []}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _handler(entity: str) -> Handler:
    handler = HANDLERS.get(entity)
    if handler is None:
        raise faults.unsupported("Create")
    return handler


def read(company: Company, entity: str, entity_id: str) -> JSON:
    record = company.get(entity, entity_id)
    if record is None:
        raise faults.not_found()
    return record.data


def write(
    emu: Emulator,
    company: Company,
    entity: str,
    body: Any,
    operation: str | None,
    include: str | None,
) -> JSON:
    """Dispatch a POST /{entity} the way QBO reads its query parameters."""
    if not isinstance(body, dict):
        raise faults.request_invalid("Request body must be a JSON object")
    op = (operation or "").lower()
    if op == "delete":
        return delete(emu, company, entity, body)
    if op == "void" or (op == "update" and (include or "").lower() == "void"):
        return void(emu, company, entity, body)
    if op not in ("", "create", "update"):
        raise faults.unsupported(operation or "")
    has_id = body.get("Id") not in (None, "", 0, "0")
    if has_id or entity in SINGLETONS:
        return update(emu, company, entity, body)
    return create(emu, company, entity, body)


def _open_period(emu: Emulator, company: Company, entity: str, *dated: JSON) -> None:
    """Transactions dated on or before the closing date are refused (faults.period_closed).
    Intuit's help ("Close your books in QuickBooks Online") says closing the books protects
    transactions dated on or before the closing date from changes; the API refusing a create is
    a real answer (python-quickbooks #208). A missing TxnDate is QBO's default, today."""
    closed = company.book_close_date
    if not closed or entity not in TRANSACTIONS:
        return
    for data in dated:
        txn_date = str(data.get("TxnDate") or emu.clock.today())
        if txn_date <= closed:
            raise faults.period_closed()


def create(emu: Emulator, company: Company, entity: str, body: JSON) -> JSON:
    # QBO reads the body into the entity's class before any rule runs (qbo_emulator/schema.py).
    schema.check(entity, body)
    handler = _handler(entity)
    request = {k: v for k, v in clean(body).items() if k not in SYSTEM_KEYS}
    _open_period(emu, company, entity, request)
    data = copy.deepcopy(request)
    handler.prepare(emu, company, data, request, None)
    data["Id"] = company.new_id(entity)
    return _commit(emu, company, entity, data, None, handler)


def update(emu: Emulator, company: Company, entity: str, body: JSON) -> JSON:
    schema.check(entity, body)
    handler = _handler(entity)
    record = _current(company, entity, body)
    request = {k: v for k, v in clean(body).items() if k not in SYSTEM_KEYS}
    if body.get("sparse") is True or entity in SINGLETONS:
        data = copy.deepcopy(record.data)
        data.update(copy.deepcopy(request))
        for key, value in body.items():
            # In a sparse update an explicit empty value clears the field.
            if value in ("", None) and key not in SYSTEM_KEYS:
                data.pop(key, None)
    else:
        data = copy.deepcopy(request)
    data["Id"] = record.data["Id"]
    _open_period(emu, company, entity, record.data, {"TxnDate": data.get("TxnDate")})
    handler.prepare(emu, company, data, request, record)
    return _commit(emu, company, entity, data, record, handler)


def _current(company: Company, entity: str, body: JSON) -> Record:
    if entity in SINGLETONS:
        record = next(company.live(entity), None)
    else:
        record = company.get(entity, str(body.get("Id")))
    if record is None:
        raise faults.not_found()
    if body.get("SyncToken") in (None, ""):
        raise faults.required("SyncToken")
    if str(body["SyncToken"]) != record.data["SyncToken"]:
        raise faults.stale()
    return record


def _commit(
    emu: Emulator, company: Company, entity: str, data: JSON, old: Record | None, handler: Handler
) -> JSON:
    now = emu.clock.now()
    stamp = emu.clock.meta_time(now)
    data["domain"] = "QBO"
    data["sparse"] = False
    if old is None:
        data["SyncToken"] = "0"
        data["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    else:
        data["SyncToken"] = str(int(old.data["SyncToken"]) + 1)
        data["MetaData"] = {**old.data.get("MetaData", {}), "LastUpdatedTime": stamp}
    record = company.put(entity, data, now)
    if old is not None:
        record.voided = old.voided
    if handler.after is not None:
        handler.after(emu, company, data, old.data if old else None)
    notify(emu, company, entity, data["Id"], "Create" if old is None else "Update", at=now)
    return data


def bump(emu: Emulator, company: Company, entity: str, record: Record, operation: str) -> None:
    """A change QBO makes itself (a payment lowering a balance, a void): new SyncToken, event."""
    now = emu.clock.now()
    record.data["SyncToken"] = str(int(record.data["SyncToken"]) + 1)
    record.data["MetaData"] = {
        **record.data["MetaData"],
        "LastUpdatedTime": emu.clock.meta_time(now),
    }
    record.updated = now
    notify(emu, company, entity, record.data["Id"], operation, at=now)


def notify(
    emu: Emulator,
    company: Company,
    entity: str,
    entity_id: str,
    operation: str,
    at: float | None = None,
) -> None:
    # Intuit only notifies apps about companies connected to them (and not disconnected).
    if emu.tokens.connected(company.realm_id):
        event = emu.webhooks.new_event(company.realm_id, entity, entity_id, operation, at=at)
        emu.webhooks.notify(event)


def delete(emu: Emulator, company: Company, entity: str, body: JSON) -> JSON:
    if entity in NAME_LIST or entity in SINGLETONS:
        raise faults.unsupported("Delete")
    schema.check(entity, body)
    record = _current(company, entity, body)
    _open_period(emu, company, entity, record.data)
    handler = _handler(entity)
    if handler.on_delete is not None:
        handler.on_delete(emu, company, record)
    now = emu.clock.now()
    record.deleted = True
    record.updated = now
    record.data = {
        "status": "Deleted",
        "domain": "QBO",
        "Id": record.data["Id"],
        "MetaData": {"LastUpdatedTime": emu.clock.meta_time(now)},
    }
    notify(emu, company, entity, record.data["Id"], "Delete")
    return {"status": "Deleted", "domain": "QBO", "Id": record.data["Id"]}


def void(emu: Emulator, company: Company, entity: str, body: JSON) -> JSON:
    if entity not in TRANSACTIONS:
        raise faults.unsupported("Void")
    schema.check(entity, body)
    record = _current(company, entity, body)
    _open_period(emu, company, entity, record.data)
    handler = _handler(entity)
    if handler.on_void is not None:
        handler.on_void(emu, company, record)
    record.voided = True
    note = record.data.get("PrivateNote")
    record.data["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    bump(emu, company, entity, record, "Void")
    return record.data
