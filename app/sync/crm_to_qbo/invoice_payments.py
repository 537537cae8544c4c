"""S3 payments: `amount_paid` rising on a CRM invoice becomes a QBO Payment for the difference."""

from __future__ import annotations

from decimal import Decimal

from app.integrations.crm.schemas import InvoiceData
from app.integrations.quickbooks.entities import Ref, for_write
from app.integrations.quickbooks.errors import QboStaleObjectError
from app.integrations.quickbooks.transactions import LinkedTxn, Payment, PaymentLine
from app.models.entity_link import LinkState
from app.sync.crm_to_qbo.document_lines import currency_ref
from app.sync.flow import FlowContext, marker


async def record_amount_paid(
    ctx: FlowContext, data: InvoiceData, invoice_id: str, customer_id: str, state: LinkState
) -> LinkState:
    """Create one Payment for what was paid since the last snapshot; `state` with it recorded.

    The requestid is keyed by the new cumulative amount, so the same amount is never paid twice,
    even when the answer to the first attempt was lost.
    """
    synced = state.amount_paid if state.amount_paid is not None else Decimal(0)
    target = data.totals.amount_paid
    if target <= synced:
        if target < synced:
            ctx.notes.append(
                f"amount paid went down from {synced} to {target}; refunds are not reversed "
                "in QuickBooks automatically"
            )
        return state
    difference = target - synced
    payment = for_write(
        Payment(
            CustomerRef=Ref(value=customer_id),
            TotalAmt=difference,
            TxnDate=data.updated_at.date(),
            PrivateNote=marker("invoice-payment", f"{data.id}@{target}"),
            CurrencyRef=currency_ref(ctx, data.currency),
            Line=[
                PaymentLine(
                    Amount=difference, LinkedTxn=[LinkedTxn(TxnId=invoice_id, TxnType="Invoice")]
                )
            ],
        )
    )
    created = await ctx.qbo.create(payment, request_id=ctx.request_id("payment", str(target)))
    ctx.qbo_ids.setdefault("payments", []).append(created.Id)
    assert created.Id is not None  # QBO always returns the Id of what it created
    return state.model_copy(
        update={"amount_paid": target, "payments": [*(state.payments or []), created.Id]}
    )


async def void_payments(ctx: FlowContext, state: LinkState) -> None:
    """Void the Payments we applied, so the invoice itself can be voided (QBO keeps both)."""
    for payment_id in state.payments or []:
        await _void_payment(ctx, payment_id)


async def _void_payment(ctx: FlowContext, payment_id: str) -> None:
    for attempt in range(3):
        current = await ctx.qbo.read(Payment, payment_id)
        if current.TotalAmt == 0 or current.SyncToken is None:
            return  # already voided
        # Keyed by SyncToken: after a user's edit (5010) the retry needs a new requestid.
        request = ctx.request_id("void", payment_id, current.SyncToken)
        try:
            await ctx.qbo.void(Payment, payment_id, current.SyncToken, request_id=request)
            return
        except QboStaleObjectError:
            if attempt == 2:
                raise
