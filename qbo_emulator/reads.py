"""Read-side operations over a company: query statements and change data capture."""

from __future__ import annotations

from qbo_emulator import faults, query
from qbo_emulator.clock import parse_instant
from qbo_emulator.jsonutil import JSON
from qbo_emulator.store import BY_LOWER, NAME_LIST, Company

CDC_WINDOW_S = 30 * 24 * 3600
CDC_MAX_OBJECTS = 1000
CDC_UNSUPPORTED = frozenset({"TaxCode", "TaxRate", "CompanyInfo"})


def entity_name(text: str) -> str | None:
    return BY_LOWER.get(text.strip().lower())


def run_query(company: Company, statement: str) -> JSON:
    """The body of QueryResponse for one statement."""
    parsed = query.parse(statement)
    entity = entity_name(parsed.entity)
    if entity is None:
        raise faults.query_parse(f"Invalid entity name: {parsed.entity}")
    query.validate(parsed, entity)
    objects = (record.data for record in company.live(entity))
    page, total = query.evaluate(parsed, objects, name_list=entity in NAME_LIST)
    if parsed.count:
        return {"totalCount": total}
    if not page:
        return {}
    return {entity: page, "startPosition": parsed.start, "maxResults": len(page)}


def _cdc_entities(text: str) -> list[str]:
    names: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        name = entity_name(part)
        if name is None or name in CDC_UNSUPPORTED:
            raise faults.request_invalid(
                f"Unsupported entity for change data capture: {part.strip()}"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise faults.required("entities")
    return names


def run_cdc(company: Company, entities: str, changed_since: str, now: float) -> JSON:
    """CDCResponse: changed objects per entity, deleted ones after active ones, 1000 at most."""
    names = _cdc_entities(entities)
    since = parse_instant(changed_since) if changed_since else None
    if since is None:
        raise faults.request_invalid(f"Invalid changedSince value: {changed_since}")
    if since < now - CDC_WINDOW_S:
        raise faults.request_invalid("changedSince must be within the last 30 days.")
    remaining = CDC_MAX_OBJECTS
    responses: list[JSON] = []
    for name in names:
        changed = sorted(
            (r for r in company.table(name).values() if r.updated >= since), key=lambda r: r.updated
        )
        objects = [r.data for r in changed if not r.deleted] + [
            r.data for r in changed if r.deleted
        ]
        objects = objects[:remaining]
        remaining -= len(objects)
        entry: JSON = {}
        if objects:
            entry = {name: objects, "startPosition": 1, "maxResults": len(objects)}
        responses.append(entry)
    return {"CDCResponse": [{"QueryResponse": responses}]}
