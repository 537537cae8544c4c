"""S2: one QBO SalesReceipt per CRM payment that does not settle a CRM invoice."""

from __future__ import annotations

from app.integrations.crm.schemas import PaymentEvent
from app.integrations.quickbooks.entities import Ref, for_write
from app.integrations.quickbooks.transactions import SalesReceipt
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.services.tax_codes import TaxCodeCache
from app.sync.crm_to_qbo import payment_fees
from app.sync.crm_to_qbo.customers import ensure_customer
from app.sync.crm_to_qbo.document_lines import currency_ref, deposit_ref, map_document
from app.sync.crm_to_qbo.lookups import Intent, Lookup, create_once
from app.sync.flow import FlowContext, marker
from app.sync.mapping.documents import totals_match
from app.sync.results import SyncResult, failed, skipped, synced

KIND = "sales_receipt"


async def sync_payment(ctx: FlowContext, event: PaymentEvent, cache: TaxCodeCache) -> SyncResult:
    data = event.data
    if data.invoice_id or data.source == "invoice":
        # Counting it here as well would book the revenue twice (S2).
        return skipped(
            KIND,
            data.id,
            f"settles CRM invoice {data.invoice_id}; recorded through that invoice's amount paid",
        )
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, data.id)
    if link is not None:
        return skipped(KIND, data.id, "already synced", qbo_id=link.qbo_id)
    # Mapped first: a document refused before the write leaves no customer behind either.
    mapped = await map_document(ctx, data, cache)
    customer_id = await ensure_customer(ctx, data.contact)
    marker_text = marker("payment", data.id)
    note = " ".join(p for p in (marker_text, data.reference or "") if p)
    receipt = for_write(
        SalesReceipt(
            CustomerRef=Ref(value=customer_id),
            Line=mapped.lines,
            TxnDate=data.paid_at.date(),
            PaymentRefNum=(data.reference or data.id)[:21],
            PrivateNote=note[:4000],
            GlobalTaxCalculation=mapped.global_tax_calculation,
            TxnTaxDetail=mapped.txn_tax_detail,
            CurrencyRef=currency_ref(ctx, data.currency),
            DepositToAccountRef=deposit_ref(ctx),
        )
    )
    # Found again by customer, date and marker; not by total, which QBO computes (a receipt
    # whose total differs from the CRM's is still ours, and reported below).
    lookup = Lookup(
        customer_id=customer_id, txn_date=data.paid_at.date().isoformat(), marker=marker_text
    )
    intent = Intent(KIND, data.id, ctx.request_id("salesreceipt"), lookup)
    created, _ = await create_once(ctx, intent, receipt)
    assert created.Id is not None
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        crm_id=data.id,
        qbo_id=created.Id,
        origin=LinkOrigin.CRM,
        sync_token=created.SyncToken,
    )
    ctx.qbo_ids["sales_receipt"] = created.Id
    await payment_fees.record_fee(ctx, data)
    ctx.notes.extend(mapped.notes)
    if created.TotalAmt is None or not totals_match(mapped.expected_total, created.TotalAmt):
        return failed(
            KIND,
            data.id,
            f"QuickBooks totals sales receipt {created.DocNumber or created.Id} at "
            f"{created.TotalAmt} but the CRM payment is {mapped.expected_total}",
            "Check the tax settings of the QuickBooks company and correct the receipt there",
            qbo_id=created.Id,
        )
    return synced(KIND, data.id, created.Id)
