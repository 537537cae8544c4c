"""S3: a CRM invoice, once sent, kept in step in QBO: fields, lines, payments, void."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.integrations.crm.schemas import InvoiceData, InvoiceEvent, InvoiceStatus
from app.integrations.quickbooks.entities import EmailAddress, Ref, for_write
from app.integrations.quickbooks.errors import QboDuplicateDocNumberError, QboStaleObjectError
from app.integrations.quickbooks.transactions import Invoice
from app.models import EntityLink
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.services.tax_codes import TaxCodeCache
from app.sync.crm_to_qbo.customers import ensure_customer
from app.sync.crm_to_qbo.document_lines import currency_ref, map_document
from app.sync.crm_to_qbo.invoice_payments import record_amount_paid, void_payments
from app.sync.crm_to_qbo.lookups import Intent, Lookup, create_once
from app.sync.flow import FlowContext, marker
from app.sync.mapping.customer_text import email_addresses
from app.sync.mapping.documents import MappedDocument, totals_match
from app.sync.own_echoes import write_stamp
from app.sync.qbo_to_crm.review_requests import fully_paid
from app.sync.results import SyncResult, failed, skipped, synced

KIND = "invoice"


VOIDED_BEFORE_SENT = "voided before it was ever sent to QuickBooks"


def _skip_reason(ctx: FlowContext, data: InvoiceData, link: EntityLink | None) -> str | None:
    if data.qbo_invoice_id is not None or (link is not None and link.origin is LinkOrigin.QBO):
        return "imported from QuickBooks: edits in the CRM are not pushed back (Q3)"
    state = link.link_state if link is not None else LinkState()
    if state.voided:
        if link is not None and link.qbo_id is None:
            return "voided in the CRM before it ever reached QuickBooks"
        return "already voided in QuickBooks"
    applied = state.updated_at
    if applied is not None and data.updated_at < applied:
        return f"older snapshot (updated {data.updated_at.isoformat()}) than the one applied"
    if link is not None:
        return None
    connected_at = ctx.connection.connected_at
    if connected_at is not None and data.created_at < connected_at:
        return "created in the CRM before QuickBooks was connected; only newer invoices sync"
    if data.status is InvoiceStatus.DRAFT:
        return "not sent yet: an invoice is created in QuickBooks when it is sent"
    if data.status is InvoiceStatus.VOIDED:
        return VOIDED_BEFORE_SENT
    return None


def _fields(data: InvoiceData, customer_id: str, mapped: MappedDocument) -> Invoice:
    """The invoice fields this service owns; a create adds the currency, an update the ids."""
    # Several addresses go in QBO's comma-separated form; invalid ones are left out, with notes.
    bill_email, email_notes = email_addresses(data.billing_email or "")
    mapped.notes.extend(f"BillEmail: {note}" for note in email_notes)
    return for_write(
        Invoice(
            DocNumber=data.number[:21],
            TxnDate=data.issue_date,
            DueDate=data.due_date,
            CustomerRef=Ref(value=customer_id),
            BillEmail=EmailAddress(Address=bill_email) if bill_email else None,
            Line=mapped.lines,
            GlobalTaxCalculation=mapped.global_tax_calculation,
            TxnTaxDetail=mapped.txn_tax_detail,
            PrivateNote=marker("invoice", data.id),
        )
    )


def _digest(fields: Invoice) -> str:
    """Hash of the owned fields as stored in `content_hash` (a None field hashes as "None")."""

    def plain(value: Any) -> Any:
        return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)

    body = {
        key: plain(v) if not isinstance(v, list) else [plain(x) for x in v]
        for key, v in ((key, getattr(fields, key)) for key in sorted(fields.model_fields_set))
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def _remember_void(ctx: FlowContext, data: InvoiceData) -> None:
    """A link with no QBO invoice: an older snapshot arriving after the void must not create it."""
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        crm_id=data.id,
        qbo_id=None,
        origin=LinkOrigin.CRM,
        sync_token=None,
        state=LinkState(voided=True, updated_at=data.updated_at),
    )


async def sync_invoice(ctx: FlowContext, event: InvoiceEvent, cache: TaxCodeCache) -> SyncResult:
    data = event.data
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, data.id)
    reason = _skip_reason(ctx, data, link)
    if reason is not None:
        if reason == VOIDED_BEFORE_SENT:
            await _remember_void(ctx, data)
        return skipped(KIND, data.id, reason, qbo_id=link.qbo_id if link else None)
    # Mapped first: a document refused before the write leaves no customer behind either.
    mapped = await map_document(ctx, data, cache)
    customer_id = await ensure_customer(ctx, data.contact)
    fields = _fields(data, customer_id, mapped)
    digest = _digest(fields)
    written: Invoice | None = None
    if link is None:
        created = await _create(ctx, data, fields)
        if isinstance(created, SyncResult):
            return created
        written = created
    elif digest != link.content_hash:
        assert link.qbo_id is not None
        written = await _update(ctx, link.qbo_id, link.sync_token, fields)
    invoice_id = written.Id if written is not None else (link.qbo_id if link else None)
    assert invoice_id is not None
    ctx.qbo_ids["invoice"] = invoice_id
    ctx.notes.extend(mapped.notes)
    before = link.link_state if link is not None else LinkState()
    paid = await record_amount_paid(ctx, data, invoice_id, customer_id, before)
    state = paid.state
    if data.status is InvoiceStatus.VOIDED:
        await void_payments(ctx, state)
        await _void(ctx, invoice_id, data.id)
        state = state.model_copy(update={"voided": True})
    state = state.model_copy(update={"updated_at": data.updated_at})
    paid_now = state.payments != before.payments
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        crm_id=data.id,
        qbo_id=invoice_id,
        origin=LinkOrigin.CRM,
        sync_token=_sync_token(written, link, paid_now or bool(state.voided)),
        content_hash=digest,
        state=state,
        echo_updated_at=_echo(written, link, bool(state.voided), paid_now, paid.echo),
    )
    if (
        written is not None
        and not state.voided
        and (written.TotalAmt is None or not totals_match(mapped.expected_total, written.TotalAmt))
    ):
        return failed(
            KIND,
            data.id,
            f"QuickBooks totals invoice {data.number} at {written.TotalAmt} but the CRM "
            f"invoice is {mapped.expected_total}",
            "Check the QuickBooks company's tax settings and correct the invoice there",
            qbo_id=invoice_id,
        )
    return synced(KIND, data.id, invoice_id)


def _sync_token(written: Invoice | None, link: EntityLink | None, moved: bool) -> str | None:
    """The invoice's SyncToken as far as we know it: a Payment we applied (or a void) `moved` it
    on by an amount no answer told us, so it is unknown then (an update reads it first)."""
    if moved:
        return None
    if written is not None:
        return written.SyncToken
    return link.sync_token if link is not None else None


def _echo(
    written: Invoice | None,
    link: EntityLink | None,
    voided: bool,
    paid_now: bool,
    payment_echo: datetime | None,
) -> datetime | None:
    """What marks this sync's last change of the invoice as our echo (app/sync/own_echoes.py),
    or None: every webhook of it is read."""
    if voided:
        return None
    if paid_now:
        # Only the Payment changed the invoice (an Update at the Payment's time, expected as
        # such since the SyncToken is no longer "0"); an invoice also written now gets two
        # webhooks, and the second would be read anyway.
        return payment_echo if written is None else None
    if written is None:
        # Nothing written now: an earlier write's echo may still be on its way.
        return link.echo_updated_at if link is not None else None
    # A paid invoice's webhook feeds the review rule (Q2): read it, never skip it.
    return None if fully_paid(written) else write_stamp(written)


async def _create(ctx: FlowContext, data: InvoiceData, fields: Invoice) -> Invoice | SyncResult:
    body = fields.model_copy(update={"CurrencyRef": currency_ref(ctx, data.currency)})
    assert fields.CustomerRef is not None
    assert fields.TxnDate is not None
    intent = Intent(
        KIND,
        data.id,
        ctx.request_id("invoice"),
        Lookup(
            customer_id=fields.CustomerRef.value,
            txn_date=fields.TxnDate.isoformat(),
            marker=marker("invoice", data.id),
        ),
    )
    try:
        created, adopted = await create_once(ctx, intent, body)
    except QboDuplicateDocNumberError as exc:
        return await _adopt_duplicate(ctx, data, fields, exc)
    if adopted:
        # Made by an attempt whose answer was lost, maybe from an older snapshot: bring it to
        # this one (a retry-only request).
        assert created.Id is not None
        return await _update(ctx, created.Id, created.SyncToken, fields)
    return created


async def _adopt_duplicate(
    ctx: FlowContext, data: InvoiceData, fields: Invoice, exc: QboDuplicateDocNumberError
) -> Invoice | SyncResult:
    existing = exc.existing_txn_id
    if existing is not None:
        found = await ctx.qbo.read(Invoice, existing)
        # Our own earlier write whose answer was lost: adopt it (brought to this snapshot).
        if marker("invoice", data.id) in (found.PrivateNote or ""):
            return await _update(ctx, existing, found.SyncToken, fields)
    return failed(
        KIND,
        data.id,
        f"QuickBooks already has a document numbered {data.number}"
        + (f" (transaction {existing})" if existing else ""),
        "Give one of the two invoices a different number (in the CRM or in QuickBooks), "
        "then retry this entry",
        error=exc,
    )


async def _update(
    ctx: FlowContext, invoice_id: str, sync_token: str | None, fields: Invoice
) -> Invoice:
    for attempt in range(2):
        if sync_token is None or attempt:
            sync_token = (await ctx.qbo.read(Invoice, invoice_id)).SyncToken
        body = fields.model_copy(update={"Id": invoice_id, "SyncToken": sync_token})
        try:
            return await ctx.qbo.sparse_update(body)
        except QboStaleObjectError:
            # Edited in QBO meanwhile (or by our own payment): re-read and reapply the snapshot.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _void(ctx: FlowContext, invoice_id: str, crm_id: str) -> None:
    for attempt in range(3):
        current = await ctx.qbo.read(Invoice, invoice_id)
        assert current.SyncToken is not None
        # Keyed by the SyncToken too: a retry after a lost answer replays, while a retry after a
        # user's edit (5010) needs a new id, since QBO would replay the fault for the old one.
        request = ctx.request_id("void", crm_id, current.SyncToken)
        try:
            await ctx.qbo.void(Invoice, invoice_id, current.SyncToken, request_id=request)
            return
        except QboStaleObjectError:
            if attempt == 2:
                raise
