"""Run a stored inbound record's handler and record its outcome.

The handlers are values the job runner is given (app/services/container.py `Handlers`, built by
app/wiring.py). A QBO change of an entity this service has no flow for (Item, SalesReceipt:
Intuit sends what the app subscribed to; app/integrations/quickbooks/change_entities.py) is
`skipped` with the reason. No record waits for ever: on the final attempt (`final_attempt`, no
retry follows) any failure becomes the record's final, `failed` outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope, side_transaction
from app.errors import PermanentError
from app.integrations.quickbooks.change_entities import skip_reason
from app.logging import get_logger
from app.models.states import InboundState
from app.repositories import connections, crm_events, qbo_changes
from app.services.container import CrmEventHandler, Outcome, QboChangeHandler, Services
from app.services.tokens import ConnectionPausedError
from app.sync.results import describe

log = get_logger(__name__)

_FINISHED = {InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED}


Mark = Callable[[AsyncSession, int, InboundState, str | None], Awaitable[None]]


async def _run(
    handle: Callable[[], Awaitable[Outcome]],
    session: AsyncSession,
    factory: SessionFactory,
    mark: Mark,
    row_id: int,
    *,
    final_attempt: bool,
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
        if final_attempt:
            # The savepoint is rolled back; the record's own row still takes the outcome.
            log.error("sync.inbound.gave_up", row_id=row_id, error=describe(exc), exc_info=exc)
            return Outcome(InboundState.FAILED, f"failed after the last retry: {describe(exc)}")
        async with side_transaction(factory) as session:
            await mark(session, row_id, InboundState.PENDING, f"retrying after: {exc}")
        raise


async def process_crm_event(
    factory: SessionFactory,
    services: Services,
    handler: CrmEventHandler,
    row_id: int,
    *,
    final_attempt: bool,
) -> InboundState | None:
    async with session_scope(factory) as session:
        event = await crm_events.get(session, row_id)
        if event is None:
            log.warning("crm.event.missing", row_id=row_id)
            return None
        if event.state in _FINISHED:
            # A replayed job: the outcome is already recorded.
            return event.state
        outcome = await _run(
            lambda: handler(session, services, event, final_attempt=final_attempt),
            session,
            factory,
            crm_events.mark,
            row_id,
            final_attempt=final_attempt,
        )
        await crm_events.mark(session, row_id, outcome.state, outcome.reason)
        return outcome.state


async def process_qbo_change(
    factory: SessionFactory,
    services: Services,
    handler: QboChangeHandler,
    row_id: int,
    *,
    final_attempt: bool,
) -> InboundState | None:
    async with session_scope(factory) as session:
        change = await qbo_changes.get(session, row_id)
        if change is None:
            log.warning("qbo.change.missing", row_id=row_id)
            return None
        if change.state in _FINISHED:
            return change.state
        reason = skip_reason(change.entity)
        if reason is not None:
            outcome = Outcome(InboundState.SKIPPED, reason)
            log.info("qbo.change.no_handler", row_id=row_id, entity=change.entity)
        else:
            outcome = await _run(
                lambda: handler(session, services, change),
                session,
                factory,
                qbo_changes.mark,
                row_id,
                final_attempt=final_attempt,
            )
        await qbo_changes.mark(session, row_id, outcome.state, outcome.reason)
        return outcome.state


KEEPALIVE_AFTER = timedelta(days=14)


async def idle_realms(factory: SessionFactory) -> list[str]:
    async with session_scope(factory) as session:
        return await connections.realms_refreshed_before(
            session, datetime.now(UTC) - KEEPALIVE_AFTER
        )
