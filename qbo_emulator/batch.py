"""POST /batch: up to 30 independent operations, each answered (or faulted) by bId."""

from __future__ import annotations

from typing import Any

from qbo_emulator import faults, sales, service
from qbo_emulator.jsonutil import JSON
from qbo_emulator.reads import run_query
from qbo_emulator.state import Emulator
from qbo_emulator.store import ALL_ENTITIES, Company

MAX_ITEMS = 30


def run_batch(emu: Emulator, company: Company, body: Any) -> JSON:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise faults.required("BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise faults.request_invalid(
            f"Number of items in a batch request ({len(items)}) exceeds the maximum of {MAX_ITEMS}."
        )
    return {"BatchItemResponse": [_run_item(emu, company, item) for item in items]}


def _run_item(emu: Emulator, company: Company, item: Any) -> JSON:
    bid = item.get("bId") if isinstance(item, dict) else None
    try:
        if not isinstance(item, dict):
            raise faults.request_invalid("Batch item must be an object")
        if "Query" in item:
            return {"bId": bid, "QueryResponse": run_query(company, str(item["Query"]))}
        entity = next((key for key in item if key in ALL_ENTITIES), None)
        if entity is None:
            raise faults.request_invalid("Batch item has no entity")
        operation = str(item.get("operation") or "create").lower()
        options = str(item.get("optionsData") or "")
        with sales.request_includes(options):
            if operation == "create" and isinstance(item[entity], dict):
                result = service.create(emu, company, entity, item[entity])
            else:
                result = service.write(
                    emu, company, entity, item[entity], operation, options or None
                )
        return {"bId": bid, entity: result}
    except faults.QBOFault as fault:
        return {"bId": bid, "Fault": fault.fault()}
