"""A CRM payment's processor fee, recorded so the deposit matches what the bank receives.

The form (docs/design.md, "Where payments land"): the sales receipt deposits the gross amount to
the chosen deposit account, and the fee is an expense (QBO Purchase, PaymentType Cash) paid from
that same account to the connection's fee expense account, dated the payment's day. The bank
account then moves by gross - fee, what the processor pays out. Intuit's help for merchant fees
("How are merchant discount fees shown on my bank statement?", QBO Plus help,
help_customer_task_credit_card_fee_lump) records them with the Check form, an expense from the
bank account; a negative line on the sales receipt is not how QBO records a fee (the receipt is
the customer's document), and a Deposit with a fee line needs the payment in Undeposited Funds
first and an entity the emulator lacks. A Cash purchase must be paid from a Bank account
(Intuit's Purchase reference), so the fee is recorded only when the deposit account is one.
"""

from __future__ import annotations

from datetime import date

from app.integrations.crm.schemas import PaymentData
from app.integrations.quickbooks.entities import Account, Ref, for_write
from app.integrations.quickbooks.errors import QboNotFoundError, QboTransientError
from app.integrations.quickbooks.query import Select
from app.integrations.quickbooks.transactions import (
    AccountBasedExpenseLineDetail,
    ExpenseLine,
    Purchase,
)
from app.models.states import LinkOrigin
from app.repositories import entity_links, write_intents
from app.sync.crm_to_qbo.document_lines import currency_ref
from app.sync.crm_to_qbo.lookups import Intent, Lookup, create_once
from app.sync.flow import FlowContext, marker

FEE_LINK = "payment_fee"


async def record_fee(ctx: FlowContext, data: PaymentData) -> None:
    """The fee's expense, once; a note instead when it cannot be recorded."""
    fee_account = ctx.connection.fee_expense_account_id
    if data.fee is None or data.fee == 0 or fee_account is None:
        return
    deposit = ctx.connection.deposit_account_id
    if deposit is None or (await ctx.qbo.read(Account, deposit)).AccountType != "Bank":
        ctx.notes.append(
            f"processor fee {data.fee} not recorded: the deposit account is not a Bank account"
        )
        return
    if await entity_links.by_crm_id(ctx.session, ctx.connection.id, FEE_LINK, data.id):
        return
    day = data.paid_at.date()
    note = marker("payment-fee", data.id)
    found = await _earlier(ctx, data.id, day, note)
    if found is None:
        body = for_write(
            Purchase(
                PaymentType="Cash",
                AccountRef=Ref(value=deposit),
                TxnDate=day,
                PrivateNote=note,
                CurrencyRef=currency_ref(ctx, data.currency),
                Line=[
                    ExpenseLine(
                        DetailType="AccountBasedExpenseLineDetail",
                        Amount=data.fee,
                        Description=f"Processor fee for payment {data.id}"[:4000],
                        AccountBasedExpenseLineDetail=AccountBasedExpenseLineDetail(
                            AccountRef=Ref(value=fee_account)
                        ),
                    )
                ],
            )
        )
        intent = Intent(
            FEE_LINK, data.id, ctx.request_id("fee"), Lookup(txn_date=day.isoformat(), marker=note)
        )
        created, _ = await create_once(ctx, intent, body, looked=True)
        found = created.Id
    assert found is not None
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=FEE_LINK,
        crm_id=data.id,
        qbo_id=found,
        origin=LinkOrigin.CRM,
        sync_token=None,
    )
    ctx.qbo_ids["payment_fee"] = found
    ctx.notes.append(f"processor fee {data.fee} recorded as QuickBooks expense {found}")


async def _earlier(ctx: FlowContext, payment_id: str, day: date, note: str) -> str | None:
    """The expense an unanswered earlier attempt made, found by TxnDate and the marker (a
    Purchase has no filterable CustomerRef; as app/sync/crm_to_qbo/invoice_refunds.py does)."""
    row = await write_intents.get(ctx.session, ctx.connection.id, FEE_LINK, payment_id)
    if row is None:
        return None
    wait = await write_intents.seconds_to_settle(ctx.session, row)
    if wait > 0:
        raise QboTransientError(
            f"an earlier attempt to record this fee may still be running; looking in {wait:.0f} s",
            retry_after_s=wait,
        )
    found: str | None = None
    if row.qbo_id is not None:
        try:
            found = (await ctx.qbo.read(Purchase, row.qbo_id)).Id
        except QboNotFoundError:
            found = None
    else:
        async for page in ctx.qbo.query_all(Select(Purchase).where("TxnDate", "=", day), Purchase):
            found = found or next((p.Id for p in page if note in (p.PrivateNote or "")), None)
    await write_intents.clear(ctx.session, ctx.connection.id, FEE_LINK, payment_id)
    return found
