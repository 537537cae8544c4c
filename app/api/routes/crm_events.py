"""POST /v1/crm/events: signed CRM events, stored once and scheduled."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import metrics
from app.api.body import read_limited_body
from app.integrations.crm import signatures
from app.integrations.crm.canonical import canonical_body_hash
from app.integrations.crm.schemas import metric_label, parse_event
from app.logging import get_logger
from app.services.intake import IntakeStatus, accept_crm_event
from app.state import app_state

router = APIRouter()
log = get_logger(__name__)

_RESPONSES = {
    202: {"description": "Stored and scheduled"},
    200: {"description": "Duplicate of an event already stored; nothing new happens"},
    401: {"description": "Missing, bad or stale signature"},
    404: {"description": "Unknown location"},
    409: {"description": "Same id, different body"},
    413: {"description": "Body over the limit"},
    422: {"description": "Invalid envelope or data, with field paths"},
    503: {"description": "Database unavailable; retry"},
}


@router.post("/v1/crm/events", status_code=202, responses=_RESPONSES)  # type: ignore[arg-type]
async def receive_crm_event(request: Request) -> JSONResponse:
    """Accept one signed CRM event (docs/design.md §2.1)."""
    try:
        return await _receive(request)
    except Exception:
        # Rejected (bad signature, invalid body, unknown location, database down): the error
        # handlers answer; the type is unknown or untrusted here, so it is counted as `other`.
        metrics.EVENTS_RECEIVED.labels(source="crm", type="other", outcome="rejected").inc()
        raise


async def _receive(request: Request) -> JSONResponse:
    state = app_state(request)
    body = await read_limited_body(request, state.settings.crm.max_event_bytes)
    signatures.verify(
        state.signing_secrets,
        request.headers.get(signatures.SIGNATURE_HEADER),
        body,
        now=time.time(),
        tolerance_s=state.settings.crm.signature_tolerance_s,
    )
    event = parse_event(body)
    result = await accept_crm_event(
        state.intake, state.direct_pool, state.job_app, event, canonical_body_hash(body)
    )
    log.info(
        "crm.event.received",
        event_id=event.id,
        type=event.type,
        location_id=event.location_id,
        outcome=result.status.value,
    )
    metrics.EVENTS_RECEIVED.labels(
        source="crm", type=metric_label(event.type), outcome=result.status.value
    ).inc()
    code = 202 if result.status is IntakeStatus.ACCEPTED else 200
    return JSONResponse({"id": result.event_id, "status": result.status.value}, status_code=code)
