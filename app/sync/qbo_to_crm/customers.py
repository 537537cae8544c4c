"""Q1 ongoing: QBO customer changes -> `contact.upsert` callbacks, echoes and no-ops excluded.

One batch of changes is read with one query. Per customer, in order: merges first (the link and
the review decision of the merged-away customer pass to the survivor), then the customer as it is
now. No callback when the change is our own write (Q4: the link's SyncToken is the one we wrote)
or when nothing the CRM sees changed (`crm_hash` in the link's state); a QBO "delete" of a
customer is a deactivation and reaches the CRM as `active: false`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.errors import TransientError
from app.integrations.crm.callback_payloads import ContactRecord, DeletedContactRecord
from app.integrations.quickbooks.change_entities import link_kind
from app.integrations.quickbooks.entities import Customer
from app.models import EntityLink, QboChange, SyncLogEntry
from app.models.entity_link import LinkState
from app.models.states import Direction, SyncState
from app.repositories import crm_callbacks, qbo_change_batches, qbo_links, review_requests, sync_log
from app.sync.flow import FlowContext
from app.sync.mapping.crm_payloads import (
    contact_changed,
    contact_record,
    deleted_contact_record,
    record_hash,
)
from app.sync.qbo_to_crm.reads import read_many

KIND = link_kind("Customer")  # the entity table's: CDC reads the same links
# A customer without a link may be one our CRM -> QBO flow is creating right now (its link is
# not committed yet): wait while a CRM event that recent is still in flight.
IN_FLIGHT_WINDOW = timedelta(seconds=60)


class OwnWriteInFlightError(TransientError):
    """A new QBO customer may be our own write whose link is not committed yet; retried."""


async def process(ctx: FlowContext, changes: Sequence[QboChange]) -> dict[int, str]:
    """Apply the changes (oldest first); returns what happened per change row id."""
    ids = list(dict.fromkeys(change.entity_id for change in changes))
    customers = await read_many(ctx, Customer, ids, include_inactive=True)
    results: dict[int, str] = {}
    for customer_id in ids:
        rows = [change for change in changes if change.entity_id == customer_id]
        merged_from = [
            change.deleted_id
            for change in rows
            if change.operation == "Merge" and change.deleted_id
        ]
        notes = [await _merge(ctx, source, customer_id) for source in merged_from]
        result = await _sync_one(
            ctx, customer_id, customers.get(customer_id), merged_from, rows[-1].id
        )
        for row in rows:
            results[row.id] = "; ".join([*notes, result])
    return results


async def _merge(ctx: FlowContext, source_id: str, survivor_id: str) -> str:
    connection_id = ctx.connection.id
    moved = await qbo_links.move_to_survivor(
        ctx.session, connection_id, KIND, source_id, survivor_id
    )
    await review_requests.move_customer(ctx.session, connection_id, source_id, survivor_id)
    return f"merged customer {source_id} into {survivor_id}: {moved}"


async def _sync_one(
    ctx: FlowContext,
    customer_id: str,
    customer: Customer | None,
    merged_from: list[str],
    change_id: int,
) -> str:
    links = await qbo_links.by_qbo_ids(ctx.session, ctx.connection.id, KIND, [customer_id])
    link = links.get(customer_id)
    if customer is None:
        if link is None:
            return "not in QuickBooks and never linked: nothing to tell the CRM"
        record: ContactRecord | DeletedContactRecord = deleted_contact_record(customer_id)
        token = None
    else:
        record = contact_record(customer)
        token = customer.SyncToken
    digest = record_hash(record)
    if link is not None and not merged_from:
        if token is not None and link.sync_token == token:
            await _remember(ctx, customer_id, token, digest)
            # Our own write (Q4), or a version already processed: the CRM has it.
            return "echo of our own write or a version already seen: no callback"
        if link.link_state.crm_hash == digest:
            await _remember(ctx, customer_id, token, digest)
            return "no change the CRM can see: no callback"
    if link is None:
        await _wait_for_own_writes(ctx)
    await _send(ctx, record, link, merged_from, change_id)
    await _remember(ctx, customer_id, token, digest)
    return "contact.upsert sent"


async def _wait_for_own_writes(ctx: FlowContext) -> None:
    since = datetime.now(UTC) - IN_FLIGHT_WINDOW
    location = ctx.connection.location_id
    if await qbo_change_batches.crm_events_in_flight(ctx.session, location, since):
        raise OwnWriteInFlightError(
            "a CRM event of this location is still being synced; this new QuickBooks customer "
            "may be its own write, so it waits for that sync to finish"
        )


async def _remember(ctx: FlowContext, customer_id: str, token: str | None, digest: str) -> None:
    await qbo_links.record_seen(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        qbo_id=customer_id,
        sync_token=token,
        state=LinkState(crm_hash=digest),
    )


async def _send(
    ctx: FlowContext,
    record: ContactRecord | DeletedContactRecord,
    link: EntityLink | None,
    merged_from: list[str],
    change_id: int,
) -> None:
    crm_id = link.crm_id if link is not None else None
    await crm_callbacks.enqueue(
        ctx.session, ctx.connection.location_id, contact_changed(record, crm_id, merged_from)
    )
    await sync_log.add(
        ctx.session,
        SyncLogEntry(
            connection_id=ctx.connection.id,
            direction=Direction.QBO_TO_CRM,
            kind=KIND,
            crm_id=crm_id,
            qbo_id=record.qbo_customer_id,
            state=SyncState.SYNCED,
            message="QuickBooks customer sent to the CRM"
            + (f" (merged from {', '.join(merged_from)})" if merged_from else ""),
            qbo_change_id=change_id,
            qbo_requests=ctx.counter.count,
            details={"merged_from": merged_from} if merged_from else {},
        ),
    )
