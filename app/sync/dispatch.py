"""Route a stored inbound record to the flow that handles it.

Handlers are registered by type (CRM events) or entity (QBO changes). A CRM event whose type has
no handler yet stays visibly `pending` with the reason (intake only accepts handled types); a QBO
change of an entity this service has no flow for (Item, SalesReceipt: Intuit sends what the app
subscribed to) is `skipped` with the reason. No record waits for ever: on the last attempt any
failure becomes the record's final, `failed` outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope, side_transaction
from app.errors import PermanentError
from app.logging import get_logger
from app.models import CrmEvent, QboChange
from app.models.states import InboundState
from app.repositories import connections, crm_events, qbo_changes
from app.services.container import Services
from app.services.tokens import ConnectionPausedError
from app.sync.results import describe

log = get_logger(__name__)

_FINISHED = {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}

# Set by the job runner when the job will not be retried again: a handler then records a
# transient failure as the event's final outcome instead of leaving it "retrying" for ever.
FINAL_ATTEMPT: ContextVar[bool] = ContextVar("qbs_final_attempt", default=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: InboundState
    reason: str | None = None


CrmEventHandler = Callable[[AsyncSession, "Services", CrmEvent], Awaitable[Outcome]]
QboChangeHandler = Callable[[AsyncSession, "Services", QboChange], Awaitable[Outcome]]

CRM_EVENT_HANDLERS: dict[str, CrmEventHandler] = {}
QBO_CHANGE_HANDLERS: dict[str, QboChangeHandler] = {}


Mark = Callable[[AsyncSession, int, InboundState, str | None], Awaitable[None]]


async def _run(
    handle: Callable[[], Awaitable[Outcome]],
    session: AsyncSession,
    factory: SessionFactory,
    mark: Mark,
    row_id: int,
) -> Outcome:
    """Run a handler; a permanent error is an outcome, a transient one is recorded and re-raised.

    The handler runs in a savepoint so a permanent failure keeps none of its partial writes. A
    transient failure rolls the whole transaction back, so its reason is written in a separate
    one: a retrying record must say why it is still pending.
    """
    try:
        async with session.begin_nested():
            return await handle()
    except ConnectionPausedError as exc:
        # Not a failure: the record waits and is re-queued when the company is reconnected.
        return Outcome(InboundState.PENDING, f"paused: {exc}")
    except PermanentError as exc:
        return Outcome(InboundState.FAILED, str(exc))
    except Exception as exc:
        if FINAL_ATTEMPT.get():
            # The savepoint is rolled back; the record's own row still takes the outcome.
            log.error("sync.inbound.gave_up", row_id=row_id, error=describe(exc), exc_info=exc)
            return Outcome(InboundState.FAILED, f"failed after the last retry: {describe(exc)}")
        async with side_transaction(factory) as session:
            await mark(session, row_id, InboundState.PENDING, f"retrying after: {exc}")
        raise


def no_handler_reason(kind: str) -> str:
    return f"waiting: this service has no handler for {kind} yet"


def no_flow_reason(entity: str) -> str:
    handled = ", ".join(sorted(QBO_CHANGE_HANDLERS)) or "none"
    return f"skipped: this service syncs no {entity} changes (it handles: {handled})"


async def process_crm_event(
    factory: SessionFactory, services: Services, row_id: int
) -> InboundState | None:
    async with session_scope(factory) as session:
        event = await crm_events.get(session, row_id)
        if event is None:
            log.warning("crm.event.missing", row_id=row_id)
            return None
        if event.state in _FINISHED:
            # A replayed job: the outcome is already recorded.
            return event.state
        handler = CRM_EVENT_HANDLERS.get(event.type)
        if handler is None:
            outcome = Outcome(InboundState.PENDING, no_handler_reason(event.type))
            log.info("crm.event.no_handler", row_id=row_id, type=event.type)
        else:
            outcome = await _run(
                lambda: handler(session, services, event), session, factory, crm_events.mark, row_id
            )
        await crm_events.mark(session, row_id, outcome.state, outcome.reason)
        return outcome.state


async def process_qbo_change(
    factory: SessionFactory, services: Services, row_id: int
) -> InboundState | None:
    async with session_scope(factory) as session:
        change = await qbo_changes.get(session, row_id)
        if change is None:
            log.warning("qbo.change.missing", row_id=row_id)
            return None
        if change.state in _FINISHED:
            return change.state
        handler = QBO_CHANGE_HANDLERS.get(change.entity)
        if handler is None:
            outcome = Outcome(InboundState.SKIPPED, no_flow_reason(change.entity))
            log.info("qbo.change.no_handler", row_id=row_id, entity=change.entity)
        else:
            outcome = await _run(
                lambda: handler(session, services, change),
                session,
                factory,
                qbo_changes.mark,
                row_id,
            )
        await qbo_changes.mark(session, row_id, outcome.state, outcome.reason)
        return outcome.state


# The initial importer arrives with the QBO -> CRM sync; until then imports stay "queued".
InitialImporter = Callable[[Any, str], Awaitable[None]]
INITIAL_IMPORTER: InitialImporter | None = None

KEEPALIVE_AFTER = timedelta(days=14)


async def idle_realms(factory: SessionFactory) -> list[str]:
    async with session_scope(factory) as session:
        return await connections.realms_refreshed_before(
            session, datetime.now(UTC) - KEEPALIVE_AFTER
        )
