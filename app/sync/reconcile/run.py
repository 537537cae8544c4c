"""Run a reconciliation report for a location and period; read stored runs back.

A run is recorded in `reconciliation_runs` (state, done/total, then the lines). Our side is read
in one short transaction; QuickBooks is then read with no transaction open, one `Id IN (...)`
query per 1000 linked documents of an entity (QBO's MAXRESULTS cap), each through the realm's
limiter like every other request; after each query the progress is stored, so the run
endpoint and the card show it while the run is going. A year of 10,000 documents is about a
dozen queries (bench/reconcile.py measures it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.integrations.quickbooks.client import RealmClient
from app.integrations.quickbooks.query import MAX_RESULTS_CAP, Select
from app.integrations.quickbooks.transactions import (
    CreditMemo,
    Invoice,
    RefundReceipt,
    SalesReceipt,
    SalesTransaction,
)
from app.logging import get_logger
from app.models import EntityLink, ReconciliationRun, SyncLogEntry
from app.repositories import reconciliation as rows
from app.services.container import Services
from app.services.locations import require_connection
from app.sync.crm_to_qbo.refund_links import CREDIT_LINK, RECEIPT_LINK
from app.sync.reconcile.documents import UnreadableSnapshotError, document_of
from app.sync.reconcile.model import Document, Line, QboDocument, Report, Summary
from app.sync.reconcile.verdicts import judge

log = get_logger(__name__)

# The longest period one report covers: a year and a day of slack (a leap year, both ends).
MAX_DAYS = 367

# Per sync-log subject kind: the link kinds a document may have, and the QBO entity of each.
LINK_ENTITIES: dict[str, tuple[tuple[str, type[SalesTransaction]], ...]] = {
    "invoice": (("invoice", Invoice),),
    "sales_receipt": (("sales_receipt", SalesReceipt),),
    "refund": ((RECEIPT_LINK, RefundReceipt), (CREDIT_LINK, CreditMemo)),
}

Progress = Callable[[int, int], None]


class PeriodError(AppError):
    """A period the report cannot cover; names the query parameter at fault."""

    http_status = 422
    public_code = "invalid_request"

    def __init__(self, message: str, *, field: str = "to") -> None:
        super().__init__(message)
        self.field = field

    def public_fields(self) -> dict[str, object]:
        return {"errors": [{"path": f"query.{self.field}", "message": str(self)}]}


class NotConnectedError(AppError):
    http_status = 409
    public_code = "not_connected"


def check_period(period_from: date, period_to: date) -> None:
    if period_to < period_from:
        raise PeriodError("`to` is before `from`", field="to")
    if (period_to - period_from) > timedelta(days=MAX_DAYS):
        raise PeriodError(f"a report covers at most {MAX_DAYS} days; split the period")


@dataclass(slots=True)
class _Ours:
    """Our side of the period, read in one transaction."""

    connection_id: uuid.UUID
    realm_id: str
    run_id: int
    documents: list[Document]
    links: dict[tuple[str, str], EntityLink]
    entries: dict[tuple[str, str], SyncLogEntry]


async def _read_ours(
    session: AsyncSession, location_id: str, period_from: date, period_to: date, now: datetime
) -> _Ours:
    connection = await require_connection(session, location_id)
    if connection.realm_id is None:
        raise NotConnectedError(f"location {location_id!r} has no QuickBooks company yet")
    deleted = await rows.deleted_invoices(session, location_id)
    documents: list[Document] = []
    for event in await rows.period_documents(session, location_id, period_from, period_to):
        try:
            doc = document_of(event.payload, deleted)
        except UnreadableSnapshotError:
            # Stored under looser checks; its own sync-log entry already says so (failed).
            log.warning("reconcile.unreadable_snapshot", event_id=event.event_id)
            continue
        if doc is not None:
            documents.append(doc)
    links: dict[tuple[str, str], EntityLink] = {}
    entries: dict[tuple[str, str], SyncLogEntry] = {}
    for kind, pairs in LINK_ENTITIES.items():
        ids = [doc.crm_id for doc in documents if doc.kind == kind]
        found = await rows.links(session, connection.id, [k for k, _ in pairs], ids)
        links.update(found)
        newest = await rows.newest_entries(session, connection.id, kind, ids)
        entries.update({(kind, crm_id): entry for crm_id, entry in newest.items()})
    run_id = await rows.start_run(session, connection.id, period_from, period_to, now)
    return _Ours(connection.id, connection.realm_id, run_id, documents, links, entries)


def _link_of(ours: _Ours, doc: Document) -> tuple[EntityLink | None, type[SalesTransaction]]:
    pairs = LINK_ENTITIES[doc.kind]
    for link_kind, entity in pairs:
        link = ours.links.get((link_kind, doc.crm_id))
        if link is not None:
            return link, entity
    return None, pairs[0][1]


def _qbo_document(found: SalesTransaction) -> QboDocument:
    assert found.Id is not None
    meta = found.MetaData
    return QboDocument(
        entity=found.entity_name,
        qbo_id=found.Id,
        doc_number=found.DocNumber,
        total=found.TotalAmt,
        balance=found.Balance,
        sync_token=found.SyncToken,
        updated_at=meta.LastUpdatedTime if meta is not None else None,
    )


async def _read_qbo(
    factory: SessionFactory,
    qbo: RealmClient,
    ours: _Ours,
    on_progress: Progress | None,
) -> dict[tuple[str, str], QboDocument]:
    """Every linked QBO document, by (entity, Id); deleted ones are absent (QBO's query does
    not return deleted transactions)."""
    wanted: dict[type[SalesTransaction], list[str]] = {}
    linked = 0
    for doc in ours.documents:
        link, entity = _link_of(ours, doc)
        if link is not None and link.qbo_id is not None:
            wanted.setdefault(entity, []).append(link.qbo_id)
            linked += 1
    total = len(ours.documents)
    done = total - linked
    await _progress(factory, ours.run_id, done, total, on_progress)
    found: dict[tuple[str, str], QboDocument] = {}
    for entity, ids in wanted.items():
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_RESULTS_CAP):
            chunk = unique[start : start + MAX_RESULTS_CAP]
            select = Select(entity).where("Id", "IN", chunk).page(1, MAX_RESULTS_CAP)
            page = await qbo.query(select, entity)
            for item in page.items:
                if item.Id is not None:
                    found[(entity.entity_name, item.Id)] = _qbo_document(item)
            done += len(chunk)
            await _progress(factory, ours.run_id, min(done, total), total, on_progress)
    return found


async def _progress(
    factory: SessionFactory, run_id: int, done: int, total: int, on_progress: Progress | None
) -> None:
    async with session_scope(factory) as session:
        await rows.progress(session, run_id, done, total)
    if on_progress is not None:
        on_progress(done, total)


def lines_of(ours: _Ours, found: dict[tuple[str, str], QboDocument]) -> list[Line]:
    lines: list[Line] = []
    for doc in ours.documents:
        link, entity = _link_of(ours, doc)
        qbo_doc = None
        if link is not None and link.qbo_id is not None:
            qbo_doc = found.get((entity.entity_name, link.qbo_id))
        entry = ours.entries.get((doc.kind, doc.crm_id))
        lines.append(judge(doc, link, entity.entity_name, qbo_doc, entry))
    return lines


async def reconcile(
    factory: SessionFactory,
    services: Services,
    location_id: str,
    period_from: date,
    period_to: date,
    *,
    on_progress: Progress | None = None,
) -> Report:
    """Compare every CRM document of the period with QuickBooks; store and return the report."""
    check_period(period_from, period_to)
    started = datetime.now(UTC)
    async with session_scope(factory) as session:
        ours = await _read_ours(session, location_id, period_from, period_to, started)
    try:
        found = await _read_qbo(factory, services.qbo.realm(ours.realm_id), ours, on_progress)
    except Exception as exc:
        async with session_scope(factory) as session:
            await rows.finish_run(
                session,
                ours.run_id,
                state="failed",
                finished_at=datetime.now(UTC),
                summary={},
                lines=[],
                error=str(exc) or type(exc).__name__,
            )
        raise
    lines = lines_of(ours, found)
    summary = Summary.of(lines).as_json()
    stored = [line.as_json() for line in lines]
    finished = datetime.now(UTC)
    async with session_scope(factory) as session:
        await rows.finish_run(
            session, ours.run_id, state="done", finished_at=finished, summary=summary, lines=stored
        )
    log.info(
        "reconcile.ran",
        location_id=location_id,
        documents=len(lines),
        seconds=round((finished - started).total_seconds(), 2),
    )
    total = len(ours.documents)
    return Report(
        location_id,
        ours.run_id,
        period_from,
        period_to,
        "done",
        started,
        finished,
        total,
        total,
        summary,
        stored,
    )


def report_of(location_id: str, run: ReconciliationRun) -> Report:
    return Report(
        location_id=location_id,
        run_id=run.id,
        period_from=run.period_from,
        period_to=run.period_to,
        state=run.state,
        started_at=run.started_at,
        finished_at=run.finished_at,
        done=run.done,
        total=run.total,
        summary=dict(run.summary),
        lines=list(run.lines),
        error=run.error,
    )


async def stored_run(session: AsyncSession, location_id: str, run_id: int | None) -> Report | None:
    """A stored run (its progress while it runs), or the latest one when `run_id` is None."""
    connection = await require_connection(session, location_id)
    if run_id is None:
        run = await rows.latest_run(session, connection.id)
    else:
        run = await rows.get_run(session, connection.id, run_id)
    return report_of(location_id, run) if run is not None else None
