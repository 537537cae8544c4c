"""POST /v1/highlevel/webhooks: HighLevel's signed webhooks (the Marketplace app's webhook URL).

200 for accepted, duplicate and ignored deliveries; 429 when the service cannot store it now,
the one code HighLevel retries (help.gohighlevel.com article 155000007071, Automated Webhook
Retries: any other code is final); 401 for a bad or missing signature.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from procrastinate.exceptions import ConnectorException
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app import metrics
from app.api.body import read_limited_body
from app.errors import TransientError
from app.integrations.highlevel.signatures import (
    ED25519_HEADER,
    LEGACY_RSA_HEADER,
    HighLevelSignatureError,
    WebhookVerifier,
)
from app.integrations.highlevel.webhooks import BodyError, load_body
from app.logging import get_logger
from app.state import AppState, app_state
from app.sync.highlevel.inbound import InboundDeps, receive
from app.sync.highlevel.reads_factory import reads_of

router = APIRouter()
log = get_logger(__name__)

RETRY_AFTER_S = 60
_UNAVAILABLE = (
    TransientError,
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ConnectorException,
    ConnectionError,
)

_RESPONSES = {
    200: {"description": "Accepted, duplicate or ignored (with the reason)"},
    400: {"description": "Signed, but not a JSON object"},
    401: {"description": "Missing or bad X-GHL-Signature / X-WH-Signature"},
    413: {"description": "Body over the limit"},
    429: {"description": "Not stored now; HighLevel retries (the only code it retries)"},
}


@lru_cache(maxsize=4)
def _verifier(ed25519_key: str | None, legacy_rsa_key: str) -> WebhookVerifier:
    return WebhookVerifier(ed25519_key, legacy_rsa_key)


def _deps(state: AppState) -> InboundDeps:
    return InboundDeps(
        factory=state.session_factory,
        batcher=state.intake,
        pool=state.direct_pool,
        job_app=state.job_app,
        reads=reads_of(state.services.highlevel),
        replay_window=timedelta(seconds=state.settings.highlevel.replay_window_s),
    )


@router.post("/v1/highlevel/webhooks", responses=_RESPONSES)  # type: ignore[arg-type]
async def receive_highlevel_webhook(request: Request) -> JSONResponse:
    """One HighLevel webhook delivery (see the README, "Using qbo-sync with HighLevel")."""
    state = app_state(request)
    settings = state.settings.highlevel
    body = await read_limited_body(request, state.settings.crm.max_event_bytes)
    try:
        scheme = _verifier(settings.webhook_public_key, settings.legacy_rsa_public_key).verify(
            body, request.headers.get(ED25519_HEADER), request.headers.get(LEGACY_RSA_HEADER)
        )
    except HighLevelSignatureError as exc:
        log.warning("highlevel.webhook.refused", reason=exc.reason, error=str(exc))
        _count("refused")
        raise
    try:
        document = load_body(body)
    except BodyError as exc:
        _count("refused")
        return JSONResponse({"status": "refused", "reason": str(exc)}, status_code=400)
    try:
        result = await receive(_deps(state), document)
    except _UNAVAILABLE as exc:
        log.warning("highlevel.webhook.retry_later", error=str(exc), type=document.get("type"))
        _count("retry")
        return JSONResponse(
            {"status": "retry", "reason": "temporarily unable to store the event"},
            status_code=429,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    _count(result.status)
    log.debug("highlevel.webhook.verified", scheme=scheme)
    return JSONResponse(
        {"status": result.status, "reason": result.reason, "id": result.event_id}, status_code=200
    )


def _count(outcome: str) -> None:
    metrics.EVENTS_RECEIVED.labels(source="highlevel", type="other", outcome=outcome).inc()
