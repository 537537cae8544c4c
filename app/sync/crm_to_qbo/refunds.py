"""`payment.refunded`: money a CRM payment gave back lands in QuickBooks.

- A payment that became a SalesReceipt (S2) is refunded with a **RefundReceipt** for the same
  customer, paid from the receipt's deposit account, mapped by the payment's own rules
  (app/sync/mapping/refund_lines.py), `PaymentRefNum` = the CRM refund id.
- A payment of a CRM invoice (a QBO Payment on the invoice) is refunded the way Intuit documents
  for a paid invoice (app/sync/crm_to_qbo/invoice_refunds.py).

The refunds of one payment run one at a time (their event lock) and together never exceed the
payment: one that would is failed with the reason, and Retry runs it again once corrected. A
refund whose payment is not in QuickBooks yet waits for it by retrying (`PaymentNotSyncedError`
is transient); when the retries are spent it ends failed with that reason, never pending.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import ValidationError

from app.integrations.crm.schemas import PaymentData, RefundData, RefundEvent
from app.integrations.quickbooks.entities import Ref, for_write
from app.integrations.quickbooks.transactions import RefundReceipt, SalesReceipt
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.repositories import refunds as refunds_repo
from app.services.tax_codes import TaxCodeCache
from app.sync.crm_to_qbo.document_lines import currency_ref, map_document
from app.sync.crm_to_qbo.invoice_refunds import refund_invoice_payment
from app.sync.crm_to_qbo.lookups import Intent, Lookup, create_once
from app.sync.crm_to_qbo.refund_links import (
    KIND,
    LINK_KINDS,
    RECEIPT_LINK,
    PaymentNotSyncedError,
)
from app.sync.flow import FlowContext, marker
from app.sync.mapping.money import show_money, totals_match
from app.sync.mapping.refund_lines import refund_document
from app.sync.results import SyncResult, failed, skipped, synced


async def sync_refund(ctx: FlowContext, event: RefundEvent, cache: TaxCodeCache) -> SyncResult:
    data = event.data
    for kind in LINK_KINDS:
        link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, kind, data.id)
        if link is not None:
            return skipped(KIND, data.id, "already synced", qbo_id=link.qbo_id)
    payment = await _payment(ctx, data)
    if isinstance(payment, SyncResult):
        return payment
    refunded = await refunds_repo.refunded_so_far(
        ctx.session, ctx.connection.id, ctx.connection.location_id, payment.id, LINK_KINDS
    )
    refused = _refused(data, payment, refunded)
    if refused is not None:
        return refused
    if payment.invoice_id is not None:
        return await refund_invoice_payment(ctx, data, payment, refunded, cache)
    return await _refund_receipt(ctx, data, payment, refunded, cache)


async def _payment(ctx: FlowContext, data: RefundData) -> PaymentData | SyncResult:
    stored = await refunds_repo.newest_payment(
        ctx.session, ctx.connection.location_id, data.payment_id
    )
    if stored is None:
        raise PaymentNotSyncedError(
            f"payment {data.payment_id} has not arrived from the CRM; the refund is applied "
            "once it has"
        )
    try:
        return PaymentData.model_validate(stored)
    except ValidationError:
        return failed(
            KIND,
            data.id,
            f"the stored payment {data.payment_id} does not pass this version's checks",
            "Have the CRM send the payment again, then retry this entry",
        )


def _refused(data: RefundData, payment: PaymentData, refunded: Decimal) -> SyncResult | None:
    money = payment.currency
    if data.currency.upper() != payment.currency.upper():
        return failed(
            KIND,
            data.id,
            f"the refund is in {data.currency} but payment {payment.id} was in {payment.currency}",
            "Correct the refund in the CRM, then retry this entry",
        )
    if refunded + data.amount > payment.totals.total:
        return failed(
            KIND,
            data.id,
            f"refunding {show_money(data.amount, money)} would bring the refunds of payment "
            f"{payment.id} to {show_money(refunded + data.amount, money)}, more than the "
            f"payment's {show_money(payment.totals.total, money)} "
            f"({show_money(refunded, money)} already refunded)",
            "Correct the refund amounts in the CRM, then retry this entry",
        )
    return None


async def _refund_receipt(
    ctx: FlowContext,
    data: RefundData,
    payment: PaymentData,
    refunded: Decimal,
    cache: TaxCodeCache,
) -> SyncResult:
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, "sales_receipt", payment.id)
    if link is None or link.qbo_id is None:
        raise PaymentNotSyncedError(
            f"payment {payment.id} is not in QuickBooks yet (its sales receipt is not synced); "
            "the refund is applied once it is"
        )
    receipt = await ctx.qbo.read(SalesReceipt, link.qbo_id)
    whole = refunded == 0 and data.amount == payment.totals.total
    mapped = await map_document(ctx, refund_document(payment, data, whole=whole), cache)
    assert receipt.CustomerRef is not None  # every receipt we make names its customer
    customer_id = receipt.CustomerRef.value
    marker_text = marker("refund", data.id)
    note = " ".join(part for part in (marker_text, data.reason or "") if part)
    deposit, method = receipt.DepositToAccountRef, receipt.PaymentMethodRef
    body = for_write(
        RefundReceipt(
            CustomerRef=Ref(value=customer_id),
            Line=mapped.lines,
            TxnDate=data.refunded_at.date(),
            PaymentRefNum=data.id[:21],
            PrivateNote=note[:4000],
            GlobalTaxCalculation=mapped.global_tax_calculation,
            TxnTaxDetail=mapped.txn_tax_detail,
            CurrencyRef=currency_ref(ctx, data.currency),
            # Paid back from where the receipt's money went (Undeposited Funds by default).
            DepositToAccountRef=Ref(value=deposit.value) if deposit is not None else None,
            PaymentMethodRef=Ref(value=method.value) if method is not None else None,
        )
    )
    lookup = Lookup(
        customer_id=customer_id, txn_date=data.refunded_at.date().isoformat(), marker=marker_text
    )
    intent = Intent(RECEIPT_LINK, data.id, ctx.request_id("refundreceipt"), lookup)
    created, _ = await create_once(ctx, intent, body)
    assert created.Id is not None
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=RECEIPT_LINK,
        crm_id=data.id,
        qbo_id=created.Id,
        origin=LinkOrigin.CRM,
        sync_token=created.SyncToken,
    )
    ctx.qbo_ids["refund_receipt"] = created.Id
    ctx.notes.extend(mapped.notes)
    if created.TotalAmt is None or not totals_match(mapped.expected_total, created.TotalAmt):
        return failed(
            KIND,
            data.id,
            f"QuickBooks totals refund receipt {created.DocNumber or created.Id} at "
            f"{created.TotalAmt} but the CRM refund is {mapped.expected_total}",
            "Check the tax settings of the QuickBooks company and correct the refund there",
            qbo_id=created.Id,
        )
    return synced(KIND, data.id, created.Id)
