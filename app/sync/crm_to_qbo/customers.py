"""S1: the QBO customer of a CRM contact: link, else email match, else create; never duplicated."""

from __future__ import annotations

from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import factory_beside, side_transaction
from app.integrations.crm.schemas import Contact
from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.errors import QboDuplicateNameError, QboStaleObjectError
from app.integrations.quickbooks.query import Select
from app.logging import get_logger
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.sync.flow import FlowContext
from app.sync.mapping.customer import (
    content_hash,
    customer_body,
    display_name_candidates,
    owned_fields,
)

log = get_logger(__name__)

KIND = "customer"


async def ensure_customer(ctx: FlowContext, contact: Contact) -> str:
    """The QBO customer id for the contact, creating or updating the customer as needed."""
    fields = owned_fields(contact)
    digest = content_hash(fields)
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is not None and link.qbo_id is not None and link.content_hash == digest:
        # Steady state: no lock, so documents of one customer sync in parallel.
        ctx.qbo_ids["customer"] = link.qbo_id
        return link.qbo_id
    # Two documents of one new (or changed) contact must not both create or update it; the
    # lock lasts until our commit, so the second sees the first's link.
    await advisory_xact_lock(
        ctx.session, LockNamespace.CUSTOMER, f"{ctx.connection.id}:{contact.id}"
    )
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is not None and link.qbo_id is not None:
        if link.content_hash != digest:
            customer = await _update(ctx, link.qbo_id, link.sync_token, fields)
            await _link(ctx, contact.id, customer, link.origin, digest)
        ctx.qbo_ids["customer"] = link.qbo_id
        return link.qbo_id
    match = await _find_by_email(ctx, contact)
    if match is not None:
        customer = await _update(ctx, match.Id or "", match.SyncToken, fields, reactivate=True)
        await _link(ctx, contact.id, customer, LinkOrigin.QBO, digest)
        return customer.Id or ""
    customer = await _create(ctx, contact, fields)
    await _link(ctx, contact.id, customer, LinkOrigin.CRM, digest)
    return customer.Id or ""


async def update_linked(ctx: FlowContext, contact: Contact) -> str | None:
    """contact.updated: only linked contacts are pushed (unlinked ones wait for activity)."""
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is None:
        return None
    return await ensure_customer(ctx, contact)


async def _find_by_email(ctx: FlowContext, contact: Contact) -> Customer | None:
    if not contact.email:
        return None
    select = (
        Select("Customer")
        .where("PrimaryEmailAddr", "=", contact.email)
        .include_inactive()
        .order_by("Id")
    )
    matches = [
        customer
        for customer in (await ctx.qbo.query(select, Customer)).items
        # QBO compares case-insensitively already; checked again so a LIKE-ish match never wins.
        if customer.PrimaryEmailAddr
        and (customer.PrimaryEmailAddr.Address or "").lower() == contact.email.lower()
    ]
    if not matches:
        return None
    # Deterministic: active before inactive, then the oldest (lowest Id).
    matches.sort(key=lambda c: (c.Active is False, int(c.Id or 0)))
    if len(matches) > 1:
        ctx.notes.append(
            f"{len(matches)} QuickBooks customers have the email {contact.email}; "
            f"linked to customer {matches[0].Id} (active first, then oldest)"
        )
    return matches[0]


async def _update(
    ctx: FlowContext,
    customer_id: str,
    sync_token: str | None,
    fields: Customer,
    *,
    reactivate: bool = False,
) -> Customer:
    for attempt in range(2):
        if sync_token is None or attempt:
            current = await ctx.qbo.read(Customer, customer_id)
            sync_token = current.SyncToken
        body = customer_body(
            fields, customer_id=customer_id, sync_token=sync_token, reactivate=reactivate
        )
        try:
            return await ctx.qbo.sparse_update(body)
        except QboStaleObjectError:
            # Someone edited it in QBO meanwhile: re-read the SyncToken and apply ours again.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _create(ctx: FlowContext, contact: Contact, fields: Customer) -> Customer:
    last_error: QboDuplicateNameError | None = None
    for name in display_name_candidates(contact):
        try:
            return await ctx.qbo.create(
                customer_body(fields, display_name=name),
                request_id=ctx.request_id("customer", contact.id, name),
            )
        except QboDuplicateNameError as exc:
            # The name is held by another customer, a vendor or an employee (6240).
            last_error = exc
            log.info("qbo.customer.name_taken", name=name, contact_id=contact.id)
    assert last_error is not None
    raise last_error


async def _link(
    ctx: FlowContext, contact_id: str, customer: Customer, origin: LinkOrigin, digest: str
) -> None:
    assert customer.Id is not None
    ctx.qbo_ids["customer"] = customer.Id
    # Committed at once, in a short transaction of its own, right after QuickBooks answered: when
    # this job fails later (its invoice create, say) and its transaction rolls back, the record
    # of "we wrote this customer" survives. The customer's webhook, however late it comes, is
    # then recognised as our own write (no contact.upsert echo), and the retry adopts this
    # customer instead of making another.
    async with side_transaction(factory_beside(ctx.session)) as session:
        holder = await entity_links.record_own_write(
            session,
            connection_id=ctx.connection.id,
            kind=KIND,
            crm_id=contact_id,
            qbo_id=customer.Id,
            origin=origin,
            sync_token=customer.SyncToken,
            content_hash=digest,
        )
    if holder is not None:
        # Two CRM contacts share this QBO customer (same email): the first keeps the link, this
        # one is matched by email again next time.
        ctx.notes.append(
            f"QuickBooks customer {customer.Id} is already linked to CRM contact {holder}"
        )
