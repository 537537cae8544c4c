"""A HighLevel webhook, verified by the route, turned into our envelope event and stored through
the exactly-once intake (app/services/intake.py), or an install, or ignored with its reason.

Transient trouble (database, intake, HighLevel's API when a full read is needed) raises
:class:`InboundUnavailableError`: the route answers 429, the only code HighLevel retries
(help.gohighlevel.com article 155000007071, Automated Webhook Retries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from procrastinate import App
from pydantic import ValidationError

from app.db.direct import DirectPool
from app.db.session import SessionFactory, session_scope
from app.errors import PermanentError, TransientError
from app.integrations.crm.canonical import canonical_body_hash
from app.integrations.crm.schemas import CrmEventModel
from app.integrations.highlevel.reads import HighLevelReads
from app.integrations.highlevel.webhooks import (
    HlInstall,
    HlInvoice,
    HlOrder,
    kind_of,
    location_of,
)
from app.logging import get_logger
from app.repositories import highlevel_locations
from app.services.intake import EventConflictError, IntakeStatus, accept_crm_event
from app.services.intake_batch import IntakeBatcher
from app.services.locations import UnknownLocationError
from app.sync.highlevel.translate import (
    Ignored,
    NeedsFullObject,
    Outcome,
    Translated,
    contact_event,
    invoice_event,
)
from app.sync.highlevel.translate_orders import order_event

log = get_logger(__name__)

# HighLevel re-sends "the same payload" (same timestamp) up to six times, ten minutes apart plus
# jitter (help.gohighlevel.com article 155000007071): a retry is up to ~70 minutes old.
RETRY_SPAN = timedelta(minutes=75)

Status = Literal["accepted", "duplicate", "ignored"]


class InboundUnavailableError(TransientError):
    """Retry later: the route answers 429 so HighLevel re-sends the delivery."""


@dataclass(frozen=True, slots=True)
class InboundResult:
    status: Status
    reason: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class InboundDeps:
    factory: SessionFactory
    batcher: IntakeBatcher
    pool: DirectPool
    job_app: App
    reads: HighLevelReads | None
    replay_window: timedelta
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


def _ignored(reason: str, **fields: Any) -> InboundResult:
    log.info("highlevel.webhook.ignored", reason=reason, **fields)
    return InboundResult("ignored", reason)


def _timestamp(document: dict[str, Any]) -> datetime | None:
    value = document.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def outside_window(document: dict[str, Any], now: datetime, window: timedelta) -> bool:
    """HighLevel's replay rule ("the timestamp in the payload within an acceptable time
    window", docs/oauth/WebhookAuthentication.md), measured against the delivery's own
    timestamp and widened by HighLevel's retry span so its own retries still count."""
    sent = _timestamp(document)
    if sent is None:
        return False
    return sent > now + window or sent < now - window - RETRY_SPAN


async def receive(deps: InboundDeps, document: dict[str, Any]) -> InboundResult:
    if outside_window(document, deps.now(), deps.replay_window):
        # Not stored from the body: the poller reads the fact itself from HighLevel's API.
        return _ignored("outside the replay window", timestamp=document.get("timestamp"))
    kind = kind_of(document)
    if kind is None:
        return _ignored("event type not synced", type=document.get("type"))
    if kind == "install":
        return await _install(deps, HlInstall.model_validate(document))
    location_id = location_of(document)
    if location_id is None:
        return _ignored("no location", type=document.get("type"))
    async with session_scope(deps.factory) as session:
        location = await highlevel_locations.get(session, location_id)
        if location is None or location.uninstalled_at is not None:
            return _ignored("location not installed", location_id=location_id)
        await highlevel_locations.touch_webhook(session, location_id, deps.now())
        opted_in = location.live_mode_opt_in
    if document.get("liveMode") is False and not opted_in:
        return _ignored("test mode (liveMode false)", location_id=location_id)
    try:
        outcome = _translate(kind, document, location_id)
    except ValidationError as exc:
        return _ignored(f"payload not as documented: {exc.error_count()} errors")
    if isinstance(outcome, NeedsFullObject):
        outcome = await read_full(deps, location_id, outcome)
    return await store_outcome(deps, outcome, location_id)


def _translate(kind: str, document: dict[str, Any], location_id: str) -> Outcome:
    if kind == "invoice":
        return invoice_event(HlInvoice.model_validate(document), location_id, from_api=False)
    if kind == "order":
        return order_event(HlOrder.model_validate(document), location_id, from_api=False)
    return contact_event(document, location_id)


async def read_full(deps: InboundDeps, location_id: str, need: NeedsFullObject) -> Outcome:
    """The object from HighLevel's API when the payload cannot give an exact total."""
    if deps.reads is None:
        return Ignored(f"needs a read from HighLevel ({need.reason}) but no API is configured")
    log.info("highlevel.webhook.full_read", kind=need.kind, id=need.object_id, reason=need.reason)
    try:
        if need.kind == "invoice":
            invoice = await deps.reads.invoice(location_id, need.object_id)
            return invoice_event(invoice, location_id, from_api=True)
        order = await deps.reads.order(location_id, need.object_id)
        return order_event(order, location_id, from_api=True)
    except TransientError as exc:
        raise InboundUnavailableError(f"HighLevel read failed: {exc}") from exc
    except PermanentError as exc:
        log.error(
            "highlevel.webhook.read_failed", kind=need.kind, id=need.object_id, error=str(exc)
        )
        return Ignored(f"the full {need.kind} could not be read from HighLevel: {exc}")


async def store_outcome(deps: InboundDeps, outcome: Outcome, location_id: str) -> InboundResult:
    if isinstance(outcome, Ignored):
        return _ignored(outcome.reason, location_id=location_id)
    assert isinstance(outcome, Translated)
    return await store_event(deps, outcome.event)


async def store_event(deps: InboundDeps, event: CrmEventModel) -> InboundResult:
    body_hash = canonical_body_hash(event.model_dump_json().encode())
    try:
        result = await accept_crm_event(deps.batcher, deps.pool, deps.job_app, event, body_hash)
    except UnknownLocationError:
        return _ignored("location has no connection row", location_id=event.location_id)
    except EventConflictError:
        # The same fact seen with another body (e.g. the webhook's and the API's shape of one
        # invoice state): it is stored already.
        return InboundResult("duplicate", None, event.id)
    except TransientError as exc:
        raise InboundUnavailableError(str(exc)) from exc
    status: Status = "accepted" if result.status is IntakeStatus.ACCEPTED else "duplicate"
    log.info(
        "highlevel.event.stored",
        event_id=event.id,
        type=event.type,
        location_id=event.location_id,
        outcome=status,
    )
    return InboundResult(status, None, event.id)


async def _install(deps: InboundDeps, install: HlInstall) -> InboundResult:
    locations = install.locations()
    if not locations:
        return _ignored("agency-level install without locations", company_id=install.companyId)
    at = deps.now()
    async with session_scope(deps.factory) as session:
        for location_id in locations:
            if install.type == "INSTALL":
                await highlevel_locations.register(session, location_id, install.companyId, at)
            else:
                await highlevel_locations.uninstall(session, location_id, at)
    log.info("highlevel.install", type=install.type, locations=locations)
    return InboundResult("accepted")
