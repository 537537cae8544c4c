"""Routes of the accounting API under /v3/company/{realmId} (the guard has already run)."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from qbo_emulator import faults, sales, service
from qbo_emulator.batch import run_batch
from qbo_emulator.jsonutil import JSON, dumps, loads
from qbo_emulator.reads import entity_name, run_cdc, run_query
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company

JSON_MEDIA = "application/json;charset=UTF-8"
SENDABLE = frozenset({"Invoice", "SalesReceipt"})
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

router = APIRouter(prefix="/v3/company/{realm_id}")


def emulator(request: Request) -> Emulator:
    return cast(Emulator, request.app.state.emulator)


def _company(request: Request, realm_id: str) -> tuple[Emulator, Company]:
    emu = emulator(request)
    company = emu.company(realm_id)
    if company is None:  # the guard normally answers first
        raise faults.not_found()
    return emu, company


def reply(emu: Emulator, payload: JSON, status: int = 200) -> Response:
    payload["time"] = emu.clock.response_time()
    return Response(dumps(payload), status_code=status, media_type=JSON_MEDIA)


def _entity(segment: str) -> str:
    name = entity_name(segment)
    if name is None:
        raise faults.unsupported(f"{segment}")
    return name


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise faults.request_invalid(f"Request body is not valid JSON: {exc}") from exc


@router.get("/query")
async def query_get(realm_id: str, request: Request) -> Response:
    """Run a query passed as ?query=."""
    emu, company = _company(request, realm_id)
    statement = request.query_params.get("query")
    if not statement:
        raise faults.query_parse('Encountered " <EOF> " at line 1, column 1.')
    return reply(emu, {"QueryResponse": run_query(company, statement)})


@router.post("/query")
async def query_post(realm_id: str, request: Request) -> Response:
    """Run a query sent as the body (Content-Type application/text)."""
    emu, company = _company(request, realm_id)
    try:
        raw = await request.body()
    except ClientDisconnect:
        # The caller went away during the simulated latency (a killed worker): nobody to answer.
        return Response(status_code=499)
    statement = raw.decode("utf-8", errors="replace")
    return reply(emu, {"QueryResponse": run_query(company, statement)})


@router.get("/cdc")
async def cdc(realm_id: str, request: Request) -> Response:
    """Change data capture since a point in time."""
    emu, company = _company(request, realm_id)
    params = request.query_params
    body = run_cdc(
        company, params.get("entities", ""), params.get("changedSince", ""), emu.clock.now()
    )
    return reply(emu, body)


@router.post("/batch")
async def batch(realm_id: str, request: Request) -> Response:
    """Up to 30 operations in one request."""
    emu, company = _company(request, realm_id)
    return reply(emu, run_batch(emu, company, await _json_body(request)))


@router.get("/companyinfo/{company_id}")
async def company_info(realm_id: str, company_id: str, request: Request) -> Response:
    """The company's CompanyInfo (addressed by realm id)."""
    emu, company = _company(request, realm_id)
    record = next(company.live("CompanyInfo"))
    return reply(emu, {"CompanyInfo": record.data})


@router.get("/preferences")
async def preferences(realm_id: str, request: Request) -> Response:
    """The company's Preferences."""
    emu, company = _company(request, realm_id)
    return reply(emu, {"Preferences": next(company.live("Preferences")).data})


@router.post("/{segment}/{entity_id}/send")
async def send(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """Email a sales form: marks it EmailSent and records DeliveryInfo."""
    emu, company = _company(request, realm_id)
    entity = _entity(segment)
    if entity not in SENDABLE:
        raise faults.unsupported("send")
    record = company.get(entity, entity_id)
    if record is None:
        raise faults.not_found()
    address = request.query_params.get("sendTo") or (record.data.get("BillEmail") or {}).get(
        "Address"
    )
    if not address:
        raise faults.business("An email address is required to send this transaction.")
    record.data["BillEmail"] = {"Address": address}
    record.data["EmailStatus"] = "EmailSent"
    record.data["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": emu.clock.meta_time()}
    service.bump(emu, company, entity, record, "Emailed")
    return reply(emu, {entity: record.data})


@router.get("/{segment}/{entity_id}/pdf")
async def pdf(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """A placeholder PDF for a sales form."""
    _, company = _company(request, realm_id)
    service.read(company, _entity(segment), entity_id)
    return Response(MINIMAL_PDF, media_type="application/pdf")


@router.get("/{segment}/{entity_id}")
async def read(realm_id: str, segment: str, entity_id: str, request: Request) -> Response:
    """Read one entity by Id."""
    emu, company = _company(request, realm_id)
    entity = _entity(segment)
    return reply(emu, {entity: service.read(company, entity, entity_id)})


@router.post("/{segment}")
async def write(realm_id: str, segment: str, request: Request) -> Response:
    """Create, update (full or sparse), delete or void, as ?operation= says."""
    emu, company = _company(request, realm_id)
    entity = _entity(segment)
    params = request.query_params
    body = await _json_body(request)
    include = params.get("include")
    with sales.request_includes(include):
        result = service.write(emu, company, entity, body, params.get("operation"), include)
    return reply(emu, {entity: result})
