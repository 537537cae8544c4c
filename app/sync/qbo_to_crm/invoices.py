"""QBO invoice and payment changes: the review rule (Q2) and updates of imported invoices (Q3).

Invoices the CRM -> QBO sync created (link origin `crm`, or our PrivateNote marker) are never
sent back as records: the CRM is their source (Q4). Invoices imported from QBO (link origin
`qbo`) get an `invoice.import` update when what the CRM sees of them changed. Every paid invoice,
whoever made it, feeds the review rule. A Payment change is followed to the invoices it pays.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.integrations.crm.callback_payloads import DeletedInvoiceRecord, InvoiceRecord
from app.integrations.quickbooks.change_entities import link_kind
from app.integrations.quickbooks.transactions import Invoice, Payment
from app.models import EntityLink, QboChange, SyncLogEntry
from app.models.entity_link import LinkState
from app.models.states import Direction, LinkOrigin, SyncState
from app.repositories import crm_callbacks, qbo_links, sync_log
from app.sync.flow import FlowContext
from app.sync.mapping.crm_payloads import (
    deleted_invoice_record,
    invoice_changed,
    invoice_record,
    record_hash,
)
from app.sync.qbo_to_crm import review_requests
from app.sync.qbo_to_crm.reads import read_many

KIND = link_kind("Invoice")  # the entity table's: CDC reads the same links


async def process_invoices(ctx: FlowContext, changes: Sequence[QboChange]) -> dict[int, str]:
    ids = list(dict.fromkeys(change.entity_id for change in changes))
    invoices = await read_many(ctx, Invoice, ids)
    links = await qbo_links.by_qbo_ids(ctx.session, ctx.connection.id, KIND, ids)
    results: dict[int, str] = {}
    for invoice_id in ids:
        rows = [change for change in changes if change.entity_id == invoice_id]
        result = await _apply(
            ctx, invoice_id, invoices.get(invoice_id), links.get(invoice_id), rows[-1].id
        )
        results.update({row.id: result for row in rows})
    return results


async def process_payments(ctx: FlowContext, changes: Sequence[QboChange]) -> dict[int, str]:
    ids = list(dict.fromkeys(change.entity_id for change in changes))
    payments = await read_many(ctx, Payment, ids)
    paid_by: dict[str, list[str]] = {}
    for payment_id, payment in payments.items():
        for invoice_id in _invoices_paid(payment):
            paid_by.setdefault(payment_id, []).append(invoice_id)
    invoice_ids = list(dict.fromkeys(i for found in paid_by.values() for i in found))
    invoices = await read_many(ctx, Invoice, invoice_ids)
    links = await qbo_links.by_qbo_ids(ctx.session, ctx.connection.id, KIND, invoice_ids)
    done: dict[str, str] = {}
    for invoice_id in invoice_ids:
        change_id = next(c.id for c in changes if invoice_id in paid_by.get(c.entity_id, []))
        done[invoice_id] = await _apply(
            ctx, invoice_id, invoices.get(invoice_id), links.get(invoice_id), change_id
        )
    results: dict[int, str] = {}
    for change in changes:
        paid = paid_by.get(change.entity_id, [])
        summary = "; ".join(f"invoice {i}: {done[i]}" for i in paid)
        results[change.id] = summary or "pays no invoice (or is deleted): nothing to do"
    return results


def _invoices_paid(payment: Payment) -> list[str]:
    return [
        link.TxnId
        for line in payment.Line or []
        for link in line.LinkedTxn or []
        if link.TxnType == "Invoice" and link.TxnId
    ]


async def _apply(
    ctx: FlowContext,
    invoice_id: str,
    invoice: Invoice | None,
    link: EntityLink | None,
    change_id: int,
) -> str:
    notes: list[str] = []
    if link is not None and link.origin is LinkOrigin.QBO:
        notes.append(await _update_import(ctx, invoice_id, invoice, link, change_id))
    if invoice is not None:
        decision = await review_requests.consider(ctx, invoice, change_id)
        if decision is not None:
            notes.append(f"review request decision: {decision}")
    return "; ".join(notes) or "no callback: not an imported invoice, no review decision"


async def _update_import(
    ctx: FlowContext,
    invoice_id: str,
    invoice: Invoice | None,
    link: EntityLink,
    change_id: int,
) -> str:
    record: InvoiceRecord | DeletedInvoiceRecord = (
        deleted_invoice_record(invoice_id) if invoice is None else invoice_record(invoice)
    )
    digest = record_hash(record)
    token = invoice.SyncToken if invoice is not None else None
    seen = link.link_state.crm_hash
    if seen != digest:
        await crm_callbacks.enqueue(
            ctx.session, ctx.connection.location_id, invoice_changed(record)
        )
        await sync_log.add(
            ctx.session,
            SyncLogEntry(
                connection_id=ctx.connection.id,
                direction=Direction.QBO_TO_CRM,
                kind=KIND,
                crm_id=link.crm_id,
                qbo_id=invoice_id,
                state=SyncState.SYNCED,
                message="imported QuickBooks invoice updated in the CRM",
                qbo_change_id=change_id,
            ),
        )
    await qbo_links.record_seen(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        qbo_id=invoice_id,
        sync_token=token,
        state=LinkState(crm_hash=digest),
    )
    if seen == digest:
        return "imported invoice: no change the CRM can see"
    return "invoice.import update sent"
