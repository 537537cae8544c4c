"""S1: the QBO customer of a CRM contact: link, else email match, else create; never duplicated.

The create has a second guard besides its requestid (QBO does not always replay one): when the
name is taken (6240), the holder is read, and if it is the customer this service created for
the same contact (our marker in its Notes) it is adopted instead of making a twin. That lookup
costs a request only after a 6240, never in the steady state.
"""

from __future__ import annotations

from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import factory_beside, side_transaction
from app.errors import PermanentError
from app.integrations.crm.schemas import Contact
from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.errors import (
    QboDuplicateNameError,
    QboError,
    QboNotFoundError,
    QboStaleObjectError,
)
from app.integrations.quickbooks.query import Select
from app.logging import get_logger
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.sync.flow import FlowContext, marker
from app.sync.mapping.customer import (
    MappedContact,
    content_hash,
    customer_body,
    display_name_candidates,
    map_contact,
)
from app.sync.mapping.customer_text import DELETED_SUFFIX, same_name, without_deleted_suffix
from app.sync.own_echoes import write_stamp

log = get_logger(__name__)

KIND = "customer"


async def ensure_customer(ctx: FlowContext, contact: Contact, *, for_document: bool = True) -> str:
    """The QBO customer id for the contact, creating or updating the customer as needed.

    For a document (`for_document`), a linked customer QBO refuses to update does not stop the
    document: it is written against the customer as QBO has it, with a note.
    """
    mapped = map_contact(contact)
    fields = mapped.fields
    digest = content_hash(fields)
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is not None and link.qbo_id is not None and link.content_hash == digest:
        # Steady state: no lock, so documents of one customer sync in parallel.
        ctx.qbo_ids["customer"] = link.qbo_id
        return link.qbo_id
    ctx.notes.extend(mapped.notes)
    # Two documents of one new (or changed) contact must not both create or update it; the
    # lock lasts until our commit, so the second sees the first's link.
    await advisory_xact_lock(
        ctx.session, LockNamespace.CUSTOMER, f"{ctx.connection.id}:{contact.id}"
    )
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is not None and link.qbo_id is not None:
        if link.content_hash != digest:
            try:
                customer = await _update(ctx, link.qbo_id, link.sync_token, fields)
            except QboError as exc:
                # Transient faults are the job runner's to retry; only a refusal is passed over.
                if not for_document or not isinstance(exc, PermanentError):
                    raise exc.in_context(f"Updating QuickBooks customer {link.qbo_id}") from exc
                # The old hash stays, so the next event tries the update again.
                ctx.notes.append(
                    f"QuickBooks refused the update of customer {link.qbo_id} "
                    f"({exc.message}); the document uses the customer as QuickBooks has it"
                )
            else:
                await _link(ctx, contact.id, customer, link.origin, digest)
        ctx.qbo_ids["customer"] = link.qbo_id
        return link.qbo_id
    match = await _find_by_email(ctx, mapped)
    if match is not None:
        customer = await _update(ctx, match.Id or "", match.SyncToken, fields, reactivate=True)
        await _link(ctx, contact.id, customer, LinkOrigin.QBO, digest)
        return customer.Id or ""
    customer = await _create(ctx, contact, mapped)
    await _link(ctx, contact.id, customer, LinkOrigin.CRM, digest)
    return customer.Id or ""


async def update_linked(ctx: FlowContext, contact: Contact) -> str | None:
    """contact.updated: only linked contacts are pushed (unlinked ones wait for activity)."""
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, contact.id)
    if link is None:
        return None
    return await ensure_customer(ctx, contact, for_document=False)


async def _find_by_email(ctx: FlowContext, mapped: MappedContact) -> Customer | None:
    # The email as QBO would hold it (QBO's form of several addresses, invalid ones left out).
    email = mapped.fields.PrimaryEmailAddr.Address if mapped.fields.PrimaryEmailAddr else None
    if not email:
        return None
    select = (
        Select("Customer").where("PrimaryEmailAddr", "=", email).include_inactive().order_by("Id")
    )
    matches = [
        customer
        for customer in (await ctx.qbo.query(select, Customer)).items
        # QBO compares case-insensitively already; checked again so a LIKE-ish match never wins.
        if customer.PrimaryEmailAddr
        and (customer.PrimaryEmailAddr.Address or "").lower() == email.lower()
    ]
    if not matches:
        return None
    # Deterministic: active before inactive, then the oldest (lowest Id).
    matches.sort(key=lambda c: (c.Active is False, int(c.Id or 0)))
    if len(matches) > 1:
        ctx.notes.append(
            f"{len(matches)} QuickBooks customers have the email {email}; "
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


async def _create(ctx: FlowContext, contact: Contact, mapped: MappedContact) -> Customer:
    ours = marker(KIND, contact.id)
    last_error: QboDuplicateNameError | None = None
    for name in display_name_candidates(contact):
        try:
            return await ctx.qbo.create(
                customer_body(mapped.fields, display_name=name, notes=ours),
                request_id=ctx.request_id("customer", contact.id, name),
            )
        except QboDuplicateNameError as exc:
            # The name is held by another customer, a vendor or an employee (6240), or by the
            # customer our own earlier create made when its answer was lost.
            last_error = exc
            holder = await _name_holder(ctx, exc, name)
            if holder is not None and _is_ours(holder, contact, mapped):
                return await _adopt(ctx, holder, mapped, name)
            log.info("qbo.customer.name_taken", name=name, contact_id=contact.id)
        except QboError as exc:
            raise exc.in_context(
                f"QuickBooks refused to create the customer for CRM contact {contact.id}"
            ) from exc
    assert last_error is not None
    raise last_error.in_context(
        f"Every QuickBooks name tried for CRM contact {contact.id} is taken "
        f"({', '.join(display_name_candidates(contact))})"
    )


async def _name_holder(ctx: FlowContext, exc: QboDuplicateNameError, name: str) -> Customer | None:
    """The customer holding `name`, or None (a vendor or employee holds it, or none found)."""
    if exc.holder_id is not None:
        try:
            holder = await ctx.qbo.read(Customer, exc.holder_id)
        except QboNotFoundError:
            return None
        # The Id may be a vendor's or an employee's; a customer of that Id is then unrelated.
        return holder if _holds(holder, name) else None
    # No `Id=` in the detail (an older or localised text): look the name up, inactive included,
    # in both the form it was given and the one QBO reads back for an inactive customer.
    select = (
        Select("Customer")
        .where("DisplayName", "IN", (name, f"{name}{DELETED_SUFFIX}"))
        .include_inactive()
        .order_by("Id")
    )
    found = (await ctx.qbo.query(select, Customer)).items
    return next((customer for customer in found if _holds(customer, name)), None)


def _holds(customer: Customer, name: str) -> bool:
    return same_name(without_deleted_suffix(customer.DisplayName, customer.Active), name)


def _is_ours(holder: Customer, contact: Contact, mapped: MappedContact) -> bool:
    """Our create for this contact: our marker in Notes, or (Notes edited since) the same email."""
    if marker(KIND, contact.id) in (holder.Notes or ""):
        return True
    ours = mapped.fields.PrimaryEmailAddr.Address if mapped.fields.PrimaryEmailAddr else None
    theirs = holder.PrimaryEmailAddr.Address if holder.PrimaryEmailAddr else None
    return bool(ours and theirs and ours.lower() == theirs.lower())


async def _adopt(ctx: FlowContext, holder: Customer, mapped: MappedContact, name: str) -> Customer:
    assert holder.Id is not None
    log.info("qbo.customer.adopted_own_create", customer_id=holder.Id, name=name)
    ctx.notes.append(
        f"QuickBooks customer {holder.Id} ({name}) is the one made for this contact by an "
        "earlier attempt whose answer was lost: linked to it instead of creating another"
    )
    return await _update(
        ctx, holder.Id, holder.SyncToken, mapped.fields, reactivate=holder.Active is False
    )


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
            echo_updated_at=write_stamp(customer),
        )
    if holder is not None:
        # Two CRM contacts share this QBO customer (same email): the first keeps the link, this
        # one is matched by email again next time.
        ctx.notes.append(
            f"QuickBooks customer {customer.Id} is already linked to CRM contact {holder}"
        )
