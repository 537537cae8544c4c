"""POST /v1/qbo/webhooks: Intuit's signed notifications, each entity change stored once."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import metrics
from app.api.auth import WebhookSignatureError
from app.api.body import read_limited_body
from app.db.session import session_scope
from app.integrations.quickbooks import webhooks
from app.logging import get_logger
from app.services.intake import accept_qbo_changes
from app.state import app_state

router = APIRouter()
log = get_logger(__name__)

_RESPONSES = {
    200: {"description": "Every change stored (new or duplicate) and scheduled"},
    401: {"description": "Missing or bad intuit-signature"},
    413: {"description": "Body over the limit"},
    503: {"description": "Database unavailable; Intuit retries"},
}


@router.post("/v1/qbo/webhooks", responses=_RESPONSES)  # type: ignore[arg-type]
async def receive_qbo_webhook(request: Request) -> JSONResponse:
    """Accept an Intuit webhook in the legacy or CloudEvents format (docs/design.md §2.2)."""
    state = app_state(request)
    body = await read_limited_body(request, state.settings.qbo.max_webhook_bytes)
    token = state.settings.qbo.webhook_verifier_token
    header = request.headers.get(webhooks.SIGNATURE_HEADER)
    if token is None or not webhooks.verify_signature(token.get_secret_value(), body, header):
        _count("rejected", 1)
        raise WebhookSignatureError(
            "invalid intuit-signature" if header else "missing intuit-signature"
        )
    try:
        parsed = webhooks.parse_notification(body)
    except webhooks.WebhookFormatError as exc:
        # Intuit retries a rejected delivery forever and holds back later ones behind it, so a
        # signed body we cannot read is acknowledged and reported here instead.
        log.error("qbo.webhook.unreadable", reason=str(exc), size=len(body))
        _count("unreadable", 1)
        return JSONResponse({"status": "unreadable", "accepted": 0, "duplicates": 0})
    for reason in parsed.rejected:
        log.error("qbo.webhook.entry_rejected", reason=reason)
    async with session_scope(state.session_factory) as session:
        result = await accept_qbo_changes(session, state.job_app, parsed.changes)
    _count("accepted", result.accepted)
    _count("duplicate", result.duplicates)
    _count("rejected", len(parsed.rejected))
    log.info(
        "qbo.webhook.received",
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=len(parsed.rejected),
    )
    return JSONResponse(
        {
            "status": "ok",
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": len(parsed.rejected),
        }
    )


def _count(outcome: str, changes: int) -> None:
    # One count per entity change (a delivery batches several); the entity name stays out of the
    # labels to keep them bounded whatever Intuit sends.
    if changes:
        metrics.EVENTS_RECEIVED.labels(source="qbo", type="change", outcome=outcome).inc(changes)
