"""S3 payments: `amount_paid` rising on a CRM invoice becomes a QBO Payment for the difference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.integrations.crm.schemas import InvoiceData
from app.integrations.quickbooks.change_entities import link_kind
from app.integrations.quickbooks.entities import Ref, for_write
from app.integrations.quickbooks.errors import QboStaleObjectError
from app.integrations.quickbooks.transactions import LinkedTxn, Payment, PaymentLine
from app.models.entity_link import LinkState
from app.models.states import LinkOrigin
from app.repositories import entity_links
from app.sync.crm_to_qbo.document_lines import currency_ref, deposit_ref
from app.sync.crm_to_qbo.lookups import Intent, Lookup, adopt_earlier, create_once
from app.sync.flow import FlowContext, marker
from app.sync.own_echoes import write_stamp

KIND = "invoice_payment"
# The Payments we create are linked, so their webhooks are known as ours (app/sync/own_echoes.py).
PAYMENT_KIND = link_kind("Payment")


@dataclass(frozen=True, slots=True)
class Paid:
    state: LinkState
    # LastUpdatedTime of the one Payment this sync created, when its webhooks may be taken for
    # our echo: it leaves a balance (a paid-in-full invoice's changes feed the review rule and
    # are read) and no earlier attempt's Payment was adopted. Applying it updates the invoice
    # in the same request (qbo_emulator/README.md, "Sources and unknowns": `payment applied to
    # an invoice`), so the invoice's Update webhook names this time too.
    echo: datetime | None = None


async def record_amount_paid(
    ctx: FlowContext, data: InvoiceData, invoice_id: str, customer_id: str, state: LinkState
) -> Paid:
    """Create one Payment for what was paid since the last snapshot; `state` with it recorded.

    The requestid is keyed by the new cumulative amount, so the same amount is never paid twice
    while QBO replays requestids; the write intent (keyed by the invoice: one Payment create in
    flight per invoice) is the second guard, for when it does not (app/sync/crm_to_qbo/lookups.py).
    """
    # A Payment an earlier attempt made whose answer was lost counts as paid, whatever amount
    # this snapshot now asks for.
    earlier = await adopt_earlier(ctx, KIND, data.id, Payment)
    if earlier is not None:
        assert earlier.TotalAmt is not None
        paid = (state.amount_paid or Decimal(0)) + earlier.TotalAmt
        state = _with_payment(ctx, state, earlier, paid)
    synced = state.amount_paid if state.amount_paid is not None else Decimal(0)
    target = data.totals.amount_paid
    if target <= synced:
        if target < synced:
            ctx.notes.append(
                f"amount paid went down from {synced} to {target}; refunds are not reversed "
                "in QuickBooks automatically"
            )
        return Paid(state)
    difference = target - synced
    key = f"{data.id}@{target}"
    note = marker("invoice-payment", key)
    txn_date = data.updated_at.date()
    payment = for_write(
        Payment(
            CustomerRef=Ref(value=customer_id),
            TotalAmt=difference,
            TxnDate=txn_date,
            PrivateNote=note,
            CurrencyRef=currency_ref(ctx, data.currency),
            DepositToAccountRef=deposit_ref(ctx),
            Line=[
                PaymentLine(
                    Amount=difference, LinkedTxn=[LinkedTxn(TxnId=invoice_id, TxnType="Invoice")]
                )
            ],
        )
    )
    lookup = Lookup(
        customer_id=customer_id,
        txn_date=txn_date.isoformat(),
        marker=note,
        amount=str(difference),
    )
    intent = Intent(KIND, data.id, ctx.request_id("payment", str(target)), lookup)
    created, _ = await create_once(ctx, intent, payment, looked=True)
    pays_in_full = target >= data.totals.total
    echo = None if earlier is not None or pays_in_full else write_stamp(created)
    await _link(ctx, key, created, echo)
    return Paid(_with_payment(ctx, state, created, target), echo)


async def _link(ctx: FlowContext, key: str, payment: Payment, echo: datetime | None) -> None:
    """Link the Payment to the CRM invoice's cumulative amount paid it records (unique per
    invoice: a Payment is only made when that amount rises)."""
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=PAYMENT_KIND,
        crm_id=key,
        qbo_id=payment.Id,
        origin=LinkOrigin.CRM,
        sync_token=payment.SyncToken,
        echo_updated_at=echo,
    )


def _with_payment(ctx: FlowContext, state: LinkState, payment: Payment, paid: Decimal) -> LinkState:
    """`state` with `payment` (created, or adopted after a lost answer) applied: `paid` in all."""
    assert payment.Id is not None  # QBO always returns the Id of what it created
    ctx.qbo_ids.setdefault("payments", []).append(payment.Id)
    return state.model_copy(
        update={"amount_paid": paid, "payments": [*(state.payments or []), payment.Id]}
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
