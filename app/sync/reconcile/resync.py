"""Re-sync one document of the report: its newest CRM snapshot applied again, through the
normal exactly-once path (app/sync/connections/retry.py `requeue`: the event job, its
object's lock, `create_once`).

What the flow needs to write again is prepared first, from QuickBooks as it is now (not as the
report saw it: the report may be stale, and a second click must not make a second object):
- the QBO object is gone (a user deleted it): the link is forgotten, so the flow creates the
  document again; the Re-sync is recorded (`reconciliation_resyncs`) and counted into the
  document's write generation, so the create carries a new requestid (QBO would replay the first
  create's answer, the deleted object, for the old one). Once re-created, the object exists
  and a later Re-sync finds it: never a second copy;
- an invoice that exists (edited by a user, or not matching): the link's content hash is
  cleared, so the invoice flow, which skips a snapshot whose hash it already wrote, writes the
  CRM's fields again (with QBO's current SyncToken, re-read on the stale-object fault);
- nothing in QuickBooks yet: the newest snapshot is simply run again.
A sales receipt or refund that exists in QBO but differs is refused: those flows write once and
never update, so a re-run would change nothing (the person deletes it in QuickBooks, then
Re-sync makes it again).
"""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import App

from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.integrations.quickbooks.client import RealmClient
from app.integrations.quickbooks.query import Select
from app.logging import get_logger
from app.models import EntityLink, ResyncRequest
from app.models.states import LinkOrigin
from app.repositories import reconciliation as rows
from app.services.container import Services
from app.services.locations import require_connection
from app.sync.connections.retry import requeue
from app.sync.reconcile.run import LINK_ENTITIES, NotConnectedError

log = get_logger(__name__)


class DocumentNotFoundError(AppError):
    http_status = 404
    public_code = "not_found"


class NotResyncableError(AppError):
    http_status = 409
    public_code = "not_resyncable"


@dataclass(frozen=True, slots=True)
class ResyncQueued:
    kind: str
    crm_id: str
    event_id: str
    # create (nothing in QBO) | recreate (deleted in QBO) | rewrite (the CRM's version again)
    action: str

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "crm_id": self.crm_id,
            "event_id": self.event_id,
            "action": self.action,
            "status": "queued",
        }


# The QBO entity of each link kind.
_ENTITY_OF_LINK = {link: entity for pairs in LINK_ENTITIES.values() for link, entity in pairs}


async def _exists(qbo: RealmClient, link: EntityLink) -> bool:
    entity = _ENTITY_OF_LINK[link.kind]
    assert link.qbo_id is not None
    # A query, like the report's: QBO leaves deleted transactions out of query results.
    page = await qbo.query(Select(entity).where("Id", "=", link.qbo_id), entity)
    return bool(page.items)


def _action(kind: str, link: EntityLink | None, exists: bool) -> str:
    if link is None or link.qbo_id is None:
        return "create"
    if link.origin is LinkOrigin.QBO:
        raise NotResyncableError("imported from QuickBooks: QuickBooks is its source, not the CRM")
    if not exists:
        if link.kind not in ("invoice", "sales_receipt", "refund_receipt"):
            raise NotResyncableError(
                "a refund of an invoice payment is several QuickBooks objects; correct it in "
                "QuickBooks"
            )
        return "recreate"
    if kind != "invoice":
        raise NotResyncableError(
            f"a {kind.replace('_', ' ')} is written to QuickBooks once and never updated: "
            "delete it in QuickBooks, then Re-sync makes it again from the CRM"
        )
    return "rewrite"


async def resync(
    factory: SessionFactory,
    services: Services,
    job_app: App,
    location_id: str,
    kind: str,
    crm_id: str,
) -> ResyncQueued:
    if kind not in LINK_ENTITIES:
        raise DocumentNotFoundError(f"no document kind {kind!r} (invoice, sales_receipt, refund)")
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        if connection.realm_id is None:
            raise NotConnectedError(f"location {location_id!r} has no QuickBooks company yet")
        event = await rows.newest_document_event(session, location_id, kind, crm_id)
        if event is None:
            raise DocumentNotFoundError(f"the CRM never sent {kind} {crm_id!r} for {location_id}")
        found = await rows.links(
            session, connection.id, [k for k, _ in LINK_ENTITIES[kind]], [crm_id]
        )
        link = next(iter(found.values()), None)
        realm_id = connection.realm_id
    # QuickBooks is read with no transaction open.
    exists = (
        link is not None
        and link.qbo_id is not None
        and await _exists(services.qbo.realm(realm_id), link)
    )
    action = _action(kind, link, exists)
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        if action == "recreate":
            assert link is not None
            await rows.delete_link(session, link.id)
        elif action == "rewrite":
            assert link is not None
            await rows.forget_content(session, link.id)
        await rows.add_resync(
            session,
            ResyncRequest(
                connection_id=connection.id,
                kind=kind,
                crm_id=crm_id,
                verdict=action,
                qbo_id=link.qbo_id if link is not None else None,
                crm_event_id=event.id,
            ),
        )
        await requeue(
            session,
            job_app,
            location_id,
            event,
            f"re-sync ({action}) from the reconciliation report",
        )
    log.info("reconcile.resync", location_id=location_id, kind=kind, crm_id=crm_id, action=action)
    return ResyncQueued(kind, crm_id, event.event_id, action)
