"""`invoice.deleted`: a CRM invoice deleted after it was sent is voided in QuickBooks.

Voided, not deleted: QuickBooks keeps a voided invoice (amounts zero, "Voided" in its memo), so
the books keep the trail. Our payments on it are voided first, exactly as `invoice.voided`
does. An invoice never synced is remembered as voided, so an older snapshot arriving later
cannot create it.
"""

from __future__ import annotations

from datetime import datetime

from app.integrations.crm.schemas import InvoiceDeletedEvent
from app.integrations.quickbooks.errors import QboStaleObjectError
from app.integrations.quickbooks.transactions import Invoice
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.sync.crm_to_qbo.invoice_payments import void_payments
from app.sync.flow import FlowContext
from app.sync.results import SyncResult, skipped, synced

KIND = "invoice"


async def delete_invoice(ctx: FlowContext, event: InvoiceDeletedEvent) -> SyncResult:
    data = event.data
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, data.id)
    if link is not None and link.origin is LinkOrigin.QBO:
        return skipped(
            KIND, data.id, "imported from QuickBooks: edits in the CRM are not pushed back (Q3)"
        )
    state = link.link_state if link is not None else LinkState()
    if state.voided:
        return skipped(KIND, data.id, "already voided", qbo_id=link.qbo_id if link else None)
    applied = state.updated_at
    moment = data.deleted_at if applied is None else max(applied, data.deleted_at)
    if link is None or link.qbo_id is None:
        await _remember(ctx, data.id, None, None, state, moment)
        return skipped(KIND, data.id, "deleted in the CRM before it ever reached QuickBooks")
    await void_payments(ctx, state)
    await void_invoice(ctx, link.qbo_id, data.id)
    await _remember(ctx, data.id, link.qbo_id, link.content_hash, state, moment)
    ctx.qbo_ids["invoice"] = link.qbo_id
    return synced(KIND, data.id, link.qbo_id, "deleted in the CRM: voided in QuickBooks")


async def _remember(
    ctx: FlowContext,
    crm_id: str,
    qbo_id: str | None,
    content_hash: str | None,
    state: LinkState,
    moment: datetime,
) -> None:
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        crm_id=crm_id,
        qbo_id=qbo_id,
        origin=LinkOrigin.CRM,
        sync_token=None,
        content_hash=content_hash,
        state=state.model_copy(update={"voided": True, "updated_at": moment}),
    )


async def void_invoice(ctx: FlowContext, invoice_id: str, crm_id: str) -> None:
    for attempt in range(3):
        current = await ctx.qbo.read(Invoice, invoice_id)
        if current.SyncToken is None:
            return
        # Keyed by the SyncToken, as the invoice flow's void: a retry after a lost answer
        # replays, a retry after a user's edit (5010) needs a new requestid.
        request = ctx.request_id("void", crm_id, current.SyncToken)
        try:
            await ctx.qbo.void(Invoice, invoice_id, current.SyncToken, request_id=request)
            return
        except QboStaleObjectError:
            if attempt == 2:
                raise
