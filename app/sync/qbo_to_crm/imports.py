"""The initial import at connect (Q1, Q3): every QBO customer, and every invoice when chosen.

Run by the job `qbo.import.initial(connection_id)` under the lock `import:{realm}`, so one import
per company runs at a time. Each kind is counted once (`COUNT(*)`, stored as its total), then read
in pages of 1000 ordered by Id. Everything a page produces (its links, its batch callback, the
progress callback and the new progress) is written in one transaction, so a crash or a restart
resumes at the first page not committed: no page is lost and none is sent twice. Only one page
is held in memory at a time. QBO is never called inside a database transaction.

`import_state` on the connection: queued (at connect) → running → done, or
`retrying: <error>` (the job raised and is retried with backoff), `paused: <status>` (the
connection is not active; a reconnect has to queue the job again) or `failed: <error>` (a
permanent QBO error; not retried).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope
from app.errors import PermanentError
from app.integrations.crm.callback_payloads import CallbackPayload
from app.integrations.quickbooks.client import QboClient, RealmClient
from app.integrations.quickbooks.entities import Customer, QboEntity
from app.integrations.quickbooks.query import MAX_RESULTS_CAP, Select
from app.integrations.quickbooks.transactions import Invoice
from app.logging import get_logger
from app.models import Connection
from app.models.states import ConnectionStatus, ImportState
from app.repositories import crm_callbacks, import_links
from app.repositories.import_links import ImportedLink
from app.services import callback_delivery
from app.services.container import Runtime, Services
from app.services.tokens import ConnectionPausedError
from app.sync.flow import CountingLimiter
from app.sync.mapping.crm_payloads import (
    Record,
    connection_status,
    contact_record,
    contacts_imported,
    invoice_record,
    invoices_imported,
    record_hash,
)

log = get_logger(__name__)

PAGE_SIZE = MAX_RESULTS_CAP

Progress = dict[str, Any]
E = TypeVar("E", bound=QboEntity)
R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class ImportKind(Generic[E, R]):
    """One kind of QBO object the import copies to the CRM, and how."""

    name: str  # key in import_progress
    link_kind: str  # entity_links.kind, shared with the CRM -> QBO flows
    entity: type[E]
    select: Select
    record: Callable[[E], R]
    page: Callable[[list[R]], CallbackPayload]  # the callback carrying one page of records


CUSTOMERS = ImportKind(
    name="customers",
    link_kind="customer",
    entity=Customer,
    # Name-list queries skip inactive customers unless asked; the CRM gets them marked inactive.
    select=Select(Customer).include_inactive().order_by("Id"),
    record=contact_record,
    page=contacts_imported,
)
INVOICES = ImportKind(
    name="invoices",
    link_kind="invoice",
    entity=Invoice,
    select=Select(Invoice).order_by("Id"),
    record=invoice_record,
    page=invoices_imported,
)
AnyKind = ImportKind[Any, Any]


@dataclass(frozen=True)
class _Plan:
    connection_id: uuid.UUID
    realm_id: str
    kinds: tuple[AnyKind, ...]
    progress: Progress


async def run_initial_import(runtime: Runtime, connection_id: str) -> None:
    """The initial importer (app/services/container.py `InitialImporter`)."""
    factory = runtime.session_factory
    plan = await _begin(factory, uuid.UUID(connection_id))
    if plan is None:
        return
    qbo, counter = _realm_client(runtime.services, plan.realm_id)
    try:
        progress = await _totals(factory, qbo, plan)
        for kind in plan.kinds:
            await _import_kind(runtime, qbo, plan, kind, progress[kind.name])
        await _set_state(factory, plan.connection_id, ImportState.DONE)
    except ConnectionPausedError as exc:
        # Retrying cannot help before a reconnect; the committed pages stay, the rest waits.
        await _set_state(factory, plan.connection_id, ImportState.PAUSED, str(exc))
    except PermanentError as exc:
        await _set_state(factory, plan.connection_id, ImportState.FAILED, str(exc))
    except Exception as exc:
        # Recorded so GET /v1/connections shows why it is not done; the job is retried.
        reason = f"{type(exc).__name__}: {exc}"
        await _set_state(factory, plan.connection_id, ImportState.RETRYING, reason)
        raise
    else:
        # Outside the handlers: the import is done even if this last delivery fails.
        await _deliver(runtime)
    finally:
        log.info("qbo.import.requests", connection_id=connection_id, qbo_requests=counter.count)


def _realm_client(services: Services, realm_id: str) -> tuple[RealmClient, CountingLimiter]:
    # Like flow.flow_context, minus the session: the import calls QBO between transactions.
    counter = CountingLimiter(services.limiter)
    client = QboClient(
        services.http, base_url=services.qbo_base_url, tokens=services.tokens, limiter=counter
    )
    return client.realm(realm_id), counter


async def _begin(factory: SessionFactory, connection_id: uuid.UUID) -> _Plan | None:
    """Mark the import running and say what it covers; None when there is nothing to do."""
    async with session_scope(factory) as session:
        connection = await import_links.lock_connection(session, connection_id)
        if connection is None:
            log.warning("qbo.import.no_connection", connection_id=str(connection_id))
            return None
        if connection.import_phase is ImportState.DONE:
            # A replayed job: re-running a finished import must change nothing.
            log.info("qbo.import.already_done", connection_id=str(connection_id))
            return None
        if connection.status is not ConnectionStatus.ACTIVE or connection.realm_id is None:
            connection.set_import_state(ImportState.PAUSED, connection.status.value)
            return None
        connection.set_import_state(ImportState.RUNNING)
        # "Import invoices" is decided at connect and never changes for this connection.
        kinds = (CUSTOMERS, INVOICES) if connection.import_invoices else (CUSTOMERS,)
        return _Plan(connection.id, connection.realm_id, kinds, dict(connection.import_progress))


async def _totals(factory: SessionFactory, qbo: RealmClient, plan: _Plan) -> Progress:
    """Count each kind once; a resumed import keeps the totals (and positions) it stored."""
    missing = [kind for kind in plan.kinds if kind.name not in plan.progress]
    if not missing:
        return plan.progress
    totals = {kind.name: await qbo.count(kind.select) for kind in missing}
    async with session_scope(factory) as session:
        connection = await _locked(session, plan.connection_id)
        progress = dict(connection.import_progress)
        for name, total in totals.items():
            progress[name] = {"done": 0, "total": total, "next_position": 1}
        connection.import_progress = progress
        await _announce(session, connection)
        return progress


async def _import_kind(
    runtime: Runtime, qbo: RealmClient, plan: _Plan, kind: AnyKind, entry: dict[str, Any]
) -> None:
    position: int = entry["next_position"]
    # Stop at the counted total: one more query only to learn a full last page was the last
    # would cost a request per kind. Objects created since the count arrive by webhook or CDC.
    while position <= entry["total"]:
        page = await qbo.query(kind.select.page(position, PAGE_SIZE), kind.entity)
        if not page.items:
            return
        entry = await _write_page(runtime.session_factory, plan, kind, position, page.items)
        await _deliver(runtime)
        if len(page.items) < PAGE_SIZE:
            return
        position = entry["next_position"]


async def _write_page(
    factory: SessionFactory,
    plan: _Plan,
    kind: AnyKind,
    position: int,
    items: Sequence[QboEntity],
) -> dict[str, Any]:
    """Links, the batch callback, the progress and its callback: all or nothing."""
    async with session_scope(factory) as session:
        connection = await _locked(session, plan.connection_id)
        progress = dict(connection.import_progress)
        entry: dict[str, Any] = progress[kind.name]
        if entry["next_position"] != position:
            # Only if two runs ever overlapped: the page is already written; never twice.
            log.warning("qbo.import.page_already_written", kind=kind.name, position=position)
            return entry
        records, links = _records(kind, items)
        await import_links.upsert_imported(
            session, connection_id=connection.id, kind=kind.link_kind, links=links
        )
        await crm_callbacks.enqueue(session, connection.location_id, kind.page(records))
        done = entry["done"] + len(records)
        entry = {
            "done": done,
            # More than counted when objects were added meanwhile; never show done > total.
            "total": max(entry["total"], done),
            "next_position": position + len(records),
        }
        connection.import_progress = {**progress, kind.name: entry}
        await _announce(session, connection)
        log.info("qbo.import.page", kind=kind.name, position=position, count=len(records))
        return entry


def _records(kind: ImportKind[E, R], items: Sequence[E]) -> tuple[list[R], list[ImportedLink]]:
    records: list[R] = []
    links: list[ImportedLink] = []
    for item in items:
        record = kind.record(item)
        records.append(record)
        assert item.Id is not None  # QBO always returns the Id of a stored object
        links.append(ImportedLink(item.Id, item.SyncToken, record_hash(record)))
    return records, links


async def _deliver(runtime: Runtime) -> None:
    """Send the page's callbacks now rather than at the next 5 s sweep."""
    await callback_delivery.deliver_due(runtime.session_factory, runtime.services.callbacks)


async def _set_state(
    factory: SessionFactory, connection_id: uuid.UUID, state: ImportState, reason: str | None = None
) -> None:
    async with session_scope(factory) as session:
        connection = await _locked(session, connection_id)
        connection.set_import_state(state, reason)
        await _announce(session, connection, error=reason)
    log.info("qbo.import.state", connection_id=str(connection_id), state=state, reason=reason)


async def _locked(session: AsyncSession, connection_id: uuid.UUID) -> Connection:
    connection = await import_links.lock_connection(session, connection_id)
    if connection is None:
        raise PermanentError(f"connection {connection_id} no longer exists")
    return connection


async def _announce(
    session: AsyncSession, connection: Connection, error: str | None = None
) -> None:
    """A `connection.status` callback with the import's state and progress, as GET shows them."""
    callback = connection_status(connection, with_import=True, error=error)
    await crm_callbacks.enqueue(session, connection.location_id, callback)
