"""The /_emulator control API: companies, seeding, faults, tokens, user edits, logs, config."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qbo_emulator import service
from qbo_emulator.accounting import emulator
from qbo_emulator.companies import create_company, sync_preferences
from qbo_emulator.jsonutil import dumps, loads
from qbo_emulator.limits import FAULT_KINDS
from qbo_emulator.names import merge_customers
from qbo_emulator.reads import entity_name
from qbo_emulator.seed import seed
from qbo_emulator.state import Emulator
from qbo_emulator.store import COMPANY_SETTINGS, NAME_LIST, Company, FaultRule

router = APIRouter(prefix="/_emulator")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def control_error_response(exc: ControlError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ControlError(400, f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _company(emu: Emulator, realm_id: str) -> Company:
    company = emu.company(realm_id)
    if company is None:
        raise ControlError(404, f"unknown realm {realm_id}")
    return company


def _entity(segment: str) -> str:
    name = entity_name(segment)
    if name is None:
        raise ControlError(404, f"unknown entity {segment}")
    return name


def _summary(company: Company) -> dict[str, Any]:
    return {
        "realm_id": company.realm_id,
        "name": company.name,
        "country": company.country,
        "currency": company.currency,
        "multicurrency": company.multicurrency,
        "sales_tax_rate": str(company.sales_tax_rate),
        **{key: getattr(company, key) for key in COMPANY_SETTINGS},
        "counts": {name: sum(1 for _ in company.live(name)) for name in sorted(company.entities)},
    }


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@router.post("/companies")
async def create(request: Request) -> Response:
    """Create a company; the newest one is what auto-consent connects."""
    emu = emulator(request)
    company = create_company(emu, await _body(request))
    return _json({"realm_id": company.realm_id}, status=201)


@router.get("/companies")
async def companies(request: Request) -> Response:
    """All companies."""
    emu = emulator(request)
    return _json({"companies": [_summary(c) for c in emu.companies.values()]})


@router.get("/companies/{realm_id}")
async def company_detail(realm_id: str, request: Request) -> Response:
    """One company's settings and object counts."""
    return _json(_summary(_company(emulator(request), realm_id)))


@router.patch("/companies/{realm_id}")
async def change_company(realm_id: str, request: Request) -> Response:
    """Change company settings (COMPANY_SETTINGS); unknown keys or wrong types are a 400."""
    company = _company(emulator(request), realm_id)
    body = await _body(request)
    unknown = sorted(set(body) - set(COMPANY_SETTINGS))
    if unknown:
        raise ControlError(400, f"unknown settings: {', '.join(unknown)}")
    for key, value in body.items():
        if not isinstance(value, COMPANY_SETTINGS[key]):
            raise ControlError(400, f"{key} must be a {COMPANY_SETTINGS[key].__name__}")
    for key, value in body.items():
        setattr(company, key, value)
    sync_preferences(company)
    return _json(_summary(company))


@router.post("/companies/{realm_id}/seed")
async def seed_company(realm_id: str, request: Request) -> Response:
    """Bulk-create customers and invoices (no webhooks)."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    body = await _body(request)
    customers, invoices = int(body.get("customers", 0)), int(body.get("invoices", 0))
    if customers < 0 or invoices < 0:
        raise ControlError(400, "counts must be >= 0")
    made = seed(emu, company, customers, invoices)
    return _json({"customers": made[0], "invoices": made[1]})


@router.post("/companies/{realm_id}/faults")
async def add_fault(realm_id: str, request: Request) -> Response:
    """Inject faults: the next `count` requests, or each request with `probability`."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    body = await _body(request)
    kind = str(body.get("kind"))
    if kind not in FAULT_KINDS:
        raise ControlError(400, f"kind must be one of {', '.join(FAULT_KINDS)}")
    count, probability = body.get("count"), body.get("probability")
    if count is None and probability is None:
        count = 1
    rule = FaultRule(
        kind=kind,
        count=int(count) if count is not None else None,
        probability=float(probability) if probability is not None and count is None else None,
        delay_ms=int(body.get("delay_ms", 3000)),
        fmt=body.get("format"),
    )
    company.faults.append(rule)
    return _json({"faults": [f.public() for f in company.faults]})


@router.get("/companies/{realm_id}/faults")
async def list_faults(realm_id: str, request: Request) -> Response:
    """Faults still armed."""
    company = _company(emulator(request), realm_id)
    return _json({"faults": [f.public() for f in company.faults]})


@router.delete("/companies/{realm_id}/faults")
async def clear_faults(realm_id: str, request: Request) -> Response:
    """Disarm every injected fault."""
    company = _company(emulator(request), realm_id)
    company.faults.clear()
    return _json({"faults": []})


@router.get("/companies/{realm_id}/requests")
async def requests_log(realm_id: str, request: Request) -> Response:
    """Request log of the accounting API with counts per method and path."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    return _json(
        {
            "total": company.request_total,
            "by_method_path": dict(company.request_counts),
            # 429s the throttles gave, by kind (qbo_emulator/limits.py); injected ones are not here.
            "throttled": dict(company.throttled),
            "requests": [
                {**entry, "at": emu.clock.response_time(entry["at"])}
                for entry in company.request_log
            ],
        }
    )


@router.delete("/companies/{realm_id}/requests")
async def clear_requests(realm_id: str, request: Request) -> Response:
    """Forget the request log and counts."""
    company = _company(emulator(request), realm_id)
    company.request_log.clear()
    company.request_counts.clear()
    company.request_total = 0
    company.throttled.clear()
    return _json({"total": 0, "by_method_path": {}, "throttled": {}, "requests": []})


@router.post("/companies/{realm_id}/tokens")
async def mint_tokens(realm_id: str, request: Request) -> Response:
    """Connect without the browser dance: returns tokens as the token endpoint would.

    An optional body `{"client_id": "..."}` connects another app: Intuit's per-second, in-flight
    and batch throttles are per realm *and app*.
    """
    emu = emulator(request)
    _company(emu, realm_id)
    client_id = str((await _body(request)).get("client_id") or emu.config.client_id)
    now = emu.clock.now()
    grant = emu.tokens.new_grant(
        realm_id,
        client_id,
        "com.intuit.quickbooks.accounting",
        now + emu.config.refresh_token_ttl_s,
    )
    access = emu.tokens.new_access(grant, now + emu.config.access_token_ttl_s)
    return _json(
        {
            "realm_id": realm_id,
            "token_type": "bearer",
            "access_token": access.token,
            "refresh_token": grant.refresh_token,
            "expires_in": emu.config.access_token_ttl_s,
            "x_refresh_token_expires_in": emu.config.refresh_token_ttl_s,
        }
    )


@router.post("/companies/{realm_id}/tokens/expire")
async def expire_tokens(realm_id: str, request: Request) -> Response:
    """Expire every access token of the realm now (refresh tokens stay valid)."""
    emu = emulator(request)
    _company(emu, realm_id)
    return _json({"expired": emu.tokens.expire_realm(realm_id)})


@router.post("/companies/{realm_id}/tokens/revoke")
async def revoke_tokens(realm_id: str, request: Request) -> Response:
    """Disconnect the app as a user would in QBO: all tokens of the realm stop working."""
    emu = emulator(request)
    _company(emu, realm_id)
    return _json({"revoked": emu.tokens.revoke_realm(realm_id)})


@router.get("/companies/{realm_id}/entities/{segment}")
async def list_entities(realm_id: str, segment: str, request: Request) -> Response:
    """Every stored object of a type, inactive ones included (and deleted with ?include_deleted)."""
    company = _company(emulator(request), realm_id)
    entity = _entity(segment)
    deleted = request.query_params.get("include_deleted", "").lower() in ("1", "true", "yes")
    records = company.table(entity).values()
    items = [r.data for r in records if deleted or not r.deleted]
    return _json({entity: items, "count": len(items)})


@router.get("/companies/{realm_id}/entities/{segment}/{entity_id}")
async def get_entity(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """One stored object."""
    company = _company(emulator(request), realm_id)
    entity = _entity(segment)
    record = company.table(entity).get(entity_id)
    if record is None:
        raise ControlError(404, f"{entity} {entity_id} not found")
    return _json({entity: record.data})


@router.post("/companies/{realm_id}/entities/{segment}")
async def user_create(realm_id: str, segment: str, request: Request) -> Response:
    """Create an object as a QBO user would (a webhook follows)."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    entity = _entity(segment)
    data = service.create(emu, company, entity, await _body(request))
    return _json({entity: data}, status=201)


@router.api_route("/companies/{realm_id}/entities/{segment}/{entity_id}", methods=["PATCH", "POST"])
async def user_change(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """Change fields as a QBO user would: sparse merge, SyncToken bump, webhook."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    entity = _entity(segment)
    current = company.get(entity, entity_id)
    if current is None:
        raise ControlError(404, f"{entity} {entity_id} not found")
    body = await _body(request)
    operation = body.pop("_operation", None)
    body |= {"Id": entity_id, "SyncToken": current.data["SyncToken"], "sparse": True}
    data = service.write(emu, company, entity, body, operation, None)
    return _json({entity: data})


@router.delete("/companies/{realm_id}/entities/{segment}/{entity_id}")
async def user_delete(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """Delete a transaction, or make a name-list object inactive, as a QBO user would."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    entity = _entity(segment)
    current = company.get(entity, entity_id)
    if current is None:
        raise ControlError(404, f"{entity} {entity_id} not found")
    body = {"Id": entity_id, "SyncToken": current.data["SyncToken"], "sparse": True}
    if entity in NAME_LIST:
        data = service.update(emu, company, entity, {**body, "Active": False})
    else:
        data = service.delete(emu, company, entity, body)
    return _json({entity: data})


@router.post("/companies/{realm_id}/entities/Customer/{from_id}/merge")
async def merge(realm_id: str, from_id: str, request: Request) -> Response:
    """Merge customer `from_id` into `{"into": id}` as a QBO user would (Merge webhook)."""
    emu = emulator(request)
    company = _company(emu, realm_id)
    into = str((await _body(request)).get("into", ""))
    return _json({"Customer": merge_customers(emu, company, from_id, into)})


@router.post("/reset")
async def reset(request: Request) -> Response:
    """Forget every company, token, log and pending webhook."""
    emulator(request).reset()
    return _json({"reset": True})


@router.get("/config")
async def get_config(request: Request) -> Response:
    """Current runtime settings."""
    return _json(emulator(request).config.public())


@router.patch("/config")
async def patch_config(request: Request) -> Response:
    """Change settings at runtime (latency, limits, webhook target/format/drop rate, ...)."""
    emu = emulator(request)
    unknown = emu.config.update(await _body(request))
    if unknown:
        raise ControlError(400, f"unknown settings: {', '.join(unknown)}")
    return _json(emu.config.public())


@router.post("/webhooks/flush")
async def flush_webhooks(request: Request) -> Response:
    """Deliver queued notifications now and wait, skipping batch windows and retry waits."""
    return _json(await emulator(request).webhooks.flush())


@router.get("/webhooks")
async def webhook_log(request: Request) -> Response:
    """Delivery attempts and counters."""
    hooks = emulator(request).webhooks
    return _json({"stats": dict(hooks.stats), "deliveries": list(hooks.log)})


@router.post("/clock")
async def clock(request: Request) -> Response:
    """Move the emulator's clock forward (token expiry, CDC window)."""
    emu = emulator(request)
    body = await _body(request)
    emu.clock.advance(float(body.get("advance_s", 0)))
    return _json({"offset_s": emu.clock.offset_s, "now": emu.clock.response_time()})
