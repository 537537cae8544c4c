"""Callbacks applied through HighLevel's API for HighLevel locations (QuickBooks → HighLevel).

The outbox and its deliverer stay as they are (app/services/callback_delivery.py: lease, retry
with backoff, failed after CRM_CALLBACK_GIVE_UP_AFTER_S, resend); only the *target* is chosen per
location: an installed HighLevel location's callbacks go to `HighLevelTarget`, every other
location's to CRM_CALLBACK_URL. A HighLevel 429/5xx is a transient error (retried by the outbox
after HighLevel's own retries in app/integrations/highlevel/http.py), a 4xx other than 401 is a
verdict (the callback fails with HighLevel's answer), no tokens is a verdict too. Nothing here runs
inside a transaction while HighLevel is called: reads and writes of our own tables are short
transactions before and after each call.

What each callback becomes:
- `contact.upsert`: each active customer with an email or phone → `POST /contacts/upsert`
  (HighLevel matches by the location's duplicate rule, email first), or `PUT /contacts/{id}` when
  the customer is already linked to a contact; the new contact's id is kept on the customer's
  link. Deleted and inactive customers are left alone (QuickBooks never deletes CRM contacts).
- `review_request.send`: the configured tag (HIGHLEVEL_REVIEW_TAG) added to the contact, for the
  agency's HighLevel workflow to send the request.
- `invoice.import`: skipped with a reason (app/integrations/highlevel/writes.py says why).
- `connection.status`, `sync.result`: nothing in HighLevel to apply them to; the card shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.db.session import SessionFactory, session_scope
from app.errors import TransientError
from app.integrations.crm.callbacks import (
    CallbackScope,
    CallbackSender,
    CallbackUnavailableError,
)
from app.integrations.highlevel.http import HighLevelApiError
from app.integrations.highlevel.writes import ContactFields
from app.integrations.quickbooks.change_entities import link_kind
from app.logging import get_logger
from app.models import SyncLogEntry
from app.models.states import Direction, SyncState
from app.repositories import connections, entity_links, highlevel_locations, sync_log
from app.services.highlevel import HighLevelApi

log = get_logger(__name__)

CUSTOMER_KIND = link_kind("Customer")
SKIPPED_TYPES = {
    "invoice.import": (
        "HighLevel's API has no documented way to mark an invoice as imported or read-only "
        "(CreateInvoiceDto, apps/invoices.json); a draft created there could be sent and come "
        "back as a new invoice, so QuickBooks invoices are not written to HighLevel"
    ),
    "connection.status": "shown on the integration card; HighLevel has nothing to apply it to",
    "sync.result": "kept in the sync log and on the card; HighLevel has nothing to apply it to",
}


def _now() -> datetime:
    return datetime.now(UTC)


def contact_fields(record: Mapping[str, Any]) -> ContactFields:
    """A `contact.upsert` record (callback_payloads.ContactRecord) as HighLevel's fields."""
    address = record.get("address") or {}
    lines = [line for line in (address.get("line1"), address.get("line2")) if line]
    return ContactFields(
        first_name=record.get("first_name"),
        last_name=record.get("last_name"),
        name=record.get("display_name"),
        company_name=record.get("company_name"),
        email=record.get("email"),
        phone=record.get("phone"),
        address1=", ".join(lines) or None,
        city=address.get("city"),
        state=address.get("state"),
        postal_code=address.get("postal_code"),
        country=address.get("country"),
    )


class HighLevelTarget:
    """Applies one callback of a HighLevel location through HighLevel's API."""

    def __init__(self, factory: SessionFactory, api: HighLevelApi) -> None:
        self._factory = factory
        self._api = api

    async def apply(
        self, callback_id: str, type_: str, location_id: str, data: Mapping[str, Any]
    ) -> None:
        try:
            if type_ == "contact.upsert":
                await self._contacts(location_id, data)
            elif type_ == "review_request.send":
                await self._review_tag(location_id, data)
            else:
                reason = SKIPPED_TYPES.get(type_, "no HighLevel counterpart for this callback type")
                log.info(
                    "highlevel.callback.skipped",
                    callback_id=callback_id,
                    type=type_,
                    location_id=location_id,
                    reason=reason,
                )
                return
        except (HighLevelApiError, TransientError) as exc:
            await self._health(location_id, f"{type_}: {exc}")
            raise
        await self._health(location_id, None)

    async def _contacts(self, location_id: str, data: Mapping[str, Any]) -> None:
        for record in data.get("contacts") or []:
            qbo_id = record.get("qbo_customer_id")
            if record.get("deleted") or not record.get("active", True):
                log.info("highlevel.contact.left_alone", location_id=location_id, qbo_id=qbo_id)
                continue
            contact_id = await self._upsert_one(location_id, record)
            if contact_id is None:
                await self._log_entry(
                    location_id,
                    "customer",
                    None,
                    qbo_id,
                    SyncState.SKIPPED,
                    "no email or phone to find or create a HighLevel contact with",
                )
                continue
            if not data.get("import"):
                await self._log_entry(
                    location_id,
                    "customer",
                    contact_id,
                    qbo_id,
                    SyncState.SYNCED,
                    "HighLevel contact updated from QuickBooks",
                )

    async def _upsert_one(self, location_id: str, record: Mapping[str, Any]) -> str | None:
        fields = contact_fields(record)
        qbo_id = record.get("qbo_customer_id")
        linked = record.get("crm_contact_id") or await self._linked_contact(location_id, qbo_id)
        writes, tokens = self._api.writes, self._api.tokens
        if linked:
            try:
                await tokens.call(
                    location_id,
                    lambda token: writes.update_contact(location_id, linked, fields, token=token),
                )
                return str(linked)
            except HighLevelApiError as exc:
                if exc.status != 404:
                    raise
                # The linked contact was deleted in HighLevel: found again (or made) by email.
        if not (fields.email or fields.phone):
            return None
        upserted = await tokens.call(
            location_id, lambda token: writes.upsert_contact(location_id, fields, token=token)
        )
        if qbo_id:
            await self._keep_link(location_id, qbo_id, upserted.contact_id)
        log.info(
            "highlevel.contact.upserted",
            location_id=location_id,
            qbo_id=qbo_id,
            contact_id=upserted.contact_id,
            created=upserted.created,
        )
        return upserted.contact_id

    async def _review_tag(self, location_id: str, data: Mapping[str, Any]) -> None:
        qbo_id = data.get("qbo_customer_id")
        contact_id = data.get("crm_contact_id") or await self._linked_contact(location_id, qbo_id)
        writes, tokens, tag = self._api.writes, self._api.tokens, self._api.settings.review_tag
        if not contact_id:
            fields = ContactFields(
                None,
                None,
                data.get("name"),
                None,
                data.get("email"),
                None,
                None,
                None,
                None,
                None,
                None,
            )
            if not fields.email:
                raise HighLevelApiError("POST", "/contacts/upsert", 422, "no contact and no email")
            upserted = await tokens.call(
                location_id, lambda token: writes.upsert_contact(location_id, fields, token=token)
            )
            contact_id = upserted.contact_id
            if qbo_id:
                await self._keep_link(location_id, qbo_id, contact_id)
        await tokens.call(
            location_id,
            lambda token: writes.add_tags(location_id, str(contact_id), [tag], token=token),
        )
        log.info("highlevel.review_tag.added", location_id=location_id, contact_id=contact_id)
        await self._log_entry(
            location_id,
            "review_request",
            str(contact_id),
            qbo_id,
            SyncState.SYNCED,
            f"tag {tag!r} added to the HighLevel contact (first invoice paid)",
        )

    async def _linked_contact(self, location_id: str, qbo_id: str | None) -> str | None:
        if not qbo_id:
            return None
        async with session_scope(self._factory) as session:
            connection = await connections.get_by_location(session, location_id)
            if connection is None:
                return None
            link = await entity_links.by_qbo_id(session, connection.id, CUSTOMER_KIND, qbo_id)
            return link.crm_id if link is not None else None

    async def _keep_link(self, location_id: str, qbo_id: str, contact_id: str) -> None:
        """Give the customer's link the HighLevel contact id, unless it is linked already."""
        async with session_scope(self._factory) as session:
            connection = await connections.get_by_location(session, location_id)
            if connection is None:
                return
            claimed = await entity_links.claim_unowned(
                session,
                connection_id=connection.id,
                kind=CUSTOMER_KIND,
                qbo_id=qbo_id,
                crm_id=contact_id,
            )
        if not claimed:
            log.info(
                "highlevel.contact.link_kept",
                location_id=location_id,
                qbo_id=qbo_id,
                contact_id=contact_id,
            )

    async def _log_entry(
        self,
        location_id: str,
        kind: str,
        crm_id: str | None,
        qbo_id: str | None,
        state: SyncState,
        message: str,
    ) -> None:
        async with session_scope(self._factory) as session:
            connection = await connections.get_by_location(session, location_id)
            if connection is None:
                return
            await sync_log.add(
                session,
                SyncLogEntry(
                    connection_id=connection.id,
                    direction=Direction.QBO_TO_CRM,
                    kind=kind,
                    crm_id=crm_id,
                    qbo_id=qbo_id,
                    state=state,
                    message=message,
                    details={"target": "highlevel"},
                ),
            )

    async def _health(self, location_id: str, error: str | None) -> None:
        async with session_scope(self._factory) as session:
            await highlevel_locations.record_api_outcome(session, location_id, _now(), error)


class CallbackRouter:
    """The deliverer's sender: HighLevel for installed HighLevel locations, else the CRM URL."""

    def __init__(
        self, factory: SessionFactory, generic: CallbackSender | None, target: HighLevelTarget
    ) -> None:
        self._factory = factory
        self._generic = generic
        self._target = target

    @property
    def scope(self) -> CallbackScope:
        return "all" if self._generic is not None else "highlevel"

    async def send(
        self,
        callback_id: str,
        type_: str,
        location_id: str,
        data: Mapping[str, Any],
        created_at: datetime,
    ) -> None:
        async with session_scope(self._factory) as session:
            to_highlevel = await highlevel_locations.is_installed(session, location_id)
        if to_highlevel:
            await self._target.apply(callback_id, type_, location_id, data)
        elif self._generic is not None:
            await self._generic.send(callback_id, type_, location_id, data, created_at)
        else:
            # Claimed while installed, uninstalled since: wait for CRM_CALLBACK_URL like others.
            raise CallbackUnavailableError(
                "not a HighLevel location and CRM_CALLBACK_URL is not set"
            )


def callback_router(
    factory: SessionFactory, generic: CallbackSender | None, api: HighLevelApi
) -> CallbackRouter:
    return CallbackRouter(factory, generic, HighLevelTarget(factory, api))
