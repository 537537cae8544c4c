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
from app.state import AppState, app_state

router = APIRouter()

EVENTS_PATH = "/v1/crm/events"
# Set by the fast path (app/api/fast_intake.py) when it has already met the request's error.
PENDING_ERROR_KEY = "qbs.crm_intake_error"
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


@router.post(EVENTS_PATH, status_code=202, responses=_RESPONSES)  # type: ignore[arg-type]
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
    pending = request.scope.get(PENDING_ERROR_KEY)
    if isinstance(pending, BaseException):
        raise pending
    state = app_state(request)
    body = await read_limited_body(request, state.settings.crm.max_event_bytes)
    code, answer = await answer_crm_event(
        state, body, request.headers.get(signatures.SIGNATURE_HEADER)
    )
    return JSONResponse(answer, status_code=code)


async def answer_crm_event(
    state: AppState, body: bytes, signature: str | None
) -> tuple[int, dict[str, str]]:
    """Verify, validate and store one event: the status code and JSON body of its answer.

    Raises the error the error handlers turn into a 4xx/5xx. Shared by this route and the fast
    path ahead of FastAPI's router (app/api/fast_intake.py).
    """
    signatures.verify(
        state.signing_secrets,
        signature,
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
    return code, {"id": result.event_id, "status": result.status.value}
