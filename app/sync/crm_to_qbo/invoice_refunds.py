"""A refund of a CRM invoice payment, as Intuit documents refunding a paid invoice.

Intuit's help page "Refund your customer for a paid invoice in QuickBooks Online"
(quickbooks.intuit.com/learn-support, record-a-customer-refund): create a credit memo for the
customer, then an expense paid from the bank account with the Accounts Receivable category and
the customer as payee, then link the two with a received payment. Through the API (Intuit's
Payment reference: a Payment line may link a `CreditMemo` or an `Expense`):

1. a **CreditMemo** for the refund, mapped like the invoice payment's lines (the refund's own
   lines, the whole payment, or pro rata shares: app/sync/mapping/refund_lines.py): revenue and
   tax go back, the customer gets a credit;
2. a **Purchase** (an expense, PaymentType Cash) from the company's first bank account, one line
   on Accounts Receivable for the refund, paid to the customer: the money leaves the bank;
3. a **Payment** of 0 that uses the credit memo's credit for the expense's charge: both closed,
   the customer's balance back where it was.

The invoice keeps its payment: its balance stays what the CRM's amount due is. Each create has
its requestid and its write intent; a later attempt adopts what an earlier one made.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.integrations.crm.schemas import PaymentData, RefundData
from app.integrations.quickbooks.entities import Account, Ref, for_write
from app.integrations.quickbooks.errors import QboNotFoundError, QboTransientError
from app.integrations.quickbooks.query import Select
from app.integrations.quickbooks.transactions import (
    AccountBasedExpenseLineDetail,
    CreditMemo,
    EntityRef,
    ExpenseLine,
    Invoice,
    LinkedTxn,
    Payment,
    PaymentLine,
    Purchase,
)
from app.models.states import LinkOrigin
from app.repositories import entity_links, write_intents
from app.services.tax_codes import TaxCodeCache
from app.sync.crm_to_qbo.document_lines import currency_ref, map_document
from app.sync.crm_to_qbo.lookups import Intent, Lookup, create_once
from app.sync.crm_to_qbo.refund_links import (
    CREDIT_LINK,
    EXPENSE_LINK,
    KIND,
    PAYMENT_LINK,
    PaymentNotSyncedError,
)
from app.sync.flow import FlowContext, marker
from app.sync.mapping.money import totals_match
from app.sync.mapping.refund_lines import refund_document
from app.sync.results import SyncResult, failed, synced

RECEIVABLE, BANK = "Accounts Receivable", "Bank"


async def refund_invoice_payment(
    ctx: FlowContext,
    data: RefundData,
    payment: PaymentData,
    refunded: Decimal,
    cache: TaxCodeCache,
) -> SyncResult:
    assert payment.invoice_id is not None
    invoice_id = await _paid_invoice(ctx, data, payment, refunded)
    if isinstance(invoice_id, SyncResult):
        return invoice_id
    invoice = await ctx.qbo.read(Invoice, invoice_id)
    assert invoice.CustomerRef is not None  # every invoice names its customer
    customer_id = invoice.CustomerRef.value
    accounts = await _accounts(ctx, data)
    if isinstance(accounts, SyncResult):
        return accounts
    receivable, bank = accounts
    whole = refunded == 0 and data.amount == payment.totals.total
    mapped = await map_document(ctx, refund_document(payment, data, whole=whole), cache)
    day = data.refunded_at.date()
    note = marker("refund", data.id)
    memo_body = for_write(
        CreditMemo(
            CustomerRef=Ref(value=customer_id),
            Line=mapped.lines,
            TxnDate=day,
            PrivateNote=" ".join(p for p in (note, data.reason or "") if p)[:4000],
            GlobalTaxCalculation=mapped.global_tax_calculation,
            TxnTaxDetail=mapped.txn_tax_detail,
            CurrencyRef=currency_ref(ctx, data.currency),
        )
    )
    lookup = Lookup(customer_id=customer_id, txn_date=day.isoformat(), marker=note)
    memo_intent = Intent(CREDIT_LINK, data.id, ctx.request_id("creditmemo"), lookup)
    memo, _ = await create_once(ctx, memo_intent, memo_body)
    assert memo.Id is not None
    await _link(ctx, CREDIT_LINK, data.id, memo.Id, memo.SyncToken)
    ctx.qbo_ids["credit_memo"] = memo.Id
    ctx.notes.extend(mapped.notes)
    if memo.TotalAmt is None or not totals_match(mapped.expected_total, memo.TotalAmt):
        # Nothing is paid out for a credit memo that does not match the refund.
        return failed(
            KIND,
            data.id,
            f"QuickBooks totals credit memo {memo.DocNumber or memo.Id} at {memo.TotalAmt} but "
            f"the CRM refund is {mapped.expected_total}; the refund was not paid out",
            "Check the tax settings of the QuickBooks company, correct the credit memo and "
            "record the refund payment there",
            qbo_id=memo.Id,
        )
    expense = await _expense(ctx, data, customer_id, receivable, bank, memo.TotalAmt, day, note)
    link = await _close(ctx, data, customer_id, memo.Id, expense, day, note)
    ctx.qbo_ids.update(expense=expense, payment=link)
    return synced(KIND, data.id, memo.Id)


async def _paid_invoice(
    ctx: FlowContext, data: RefundData, payment: PaymentData, refunded: Decimal
) -> str | SyncResult:
    """The QBO invoice the payment paid, once QBO has that much paid on it."""
    assert payment.invoice_id is not None
    link = await entity_links.by_crm_id(
        ctx.session, ctx.connection.id, "invoice", payment.invoice_id
    )
    state = link.link_state if link is not None else None
    paid = (state.amount_paid if state else None) or Decimal(0)
    if state is not None and state.voided:
        return failed(
            KIND,
            data.id,
            f"CRM invoice {payment.invoice_id} is voided in QuickBooks with its payments; there "
            "is nothing left to refund there",
            None,
        )
    if link is None or link.qbo_id is None or paid < refunded + data.amount:
        raise PaymentNotSyncedError(
            f"payment {payment.id} of CRM invoice {payment.invoice_id} is not in QuickBooks yet "
            f"(paid there: {paid}); the refund is applied once it is"
        )
    return link.qbo_id


async def _accounts(ctx: FlowContext, data: RefundData) -> tuple[str, str] | SyncResult:
    """The company's Accounts Receivable account and its first bank account (by Id)."""
    select = Select("Account").where("AccountType", "IN", (RECEIVABLE, BANK)).order_by("Id")
    accounts = (await ctx.qbo.query(select, Account)).items
    receivable = next((a.Id for a in accounts if a.AccountType == RECEIVABLE), None)
    bank = next((a.Id for a in accounts if a.AccountType == BANK), None)
    if receivable is None or bank is None:
        missing = "an Accounts Receivable account" if receivable is None else "a bank account"
        return failed(
            KIND,
            data.id,
            f"the QuickBooks company has no {missing} to pay the refund of an invoice from",
            f"Add {missing} in QuickBooks (Settings → Chart of accounts), then retry this entry",
        )
    return receivable, bank


async def _expense(
    ctx: FlowContext,
    data: RefundData,
    customer_id: str,
    receivable: str,
    bank: str,
    amount: Decimal,
    day: date,
    note: str,
) -> str:
    """The money paid out: an expense from the bank on Accounts Receivable, to the customer."""
    earlier = await _earlier_expense(ctx, data.id, day, note)
    if earlier is not None:
        return earlier
    body = for_write(
        Purchase(
            PaymentType="Cash",
            AccountRef=Ref(value=bank),
            EntityRef=EntityRef(value=customer_id, type="Customer"),
            TxnDate=day,
            PrivateNote=note,
            CurrencyRef=currency_ref(ctx, data.currency),
            Line=[
                ExpenseLine(
                    DetailType="AccountBasedExpenseLineDetail",
                    Amount=amount,
                    Description=f"Refund {data.id}"[:4000],
                    AccountBasedExpenseLineDetail=AccountBasedExpenseLineDetail(
                        AccountRef=Ref(value=receivable)
                    ),
                )
            ],
        )
    )
    # A Purchase has no CustomerRef to look it up by: `_earlier_expense` looks by date instead.
    lookup = Lookup(txn_date=day.isoformat(), marker=note)
    intent = Intent(EXPENSE_LINK, data.id, ctx.request_id("purchase"), lookup)
    created, _ = await create_once(ctx, intent, body, looked=True)
    assert created.Id is not None
    await _link(ctx, EXPENSE_LINK, data.id, created.Id, created.SyncToken)
    return created.Id


async def _earlier_expense(ctx: FlowContext, refund_id: str, day: date, note: str) -> str | None:
    """The expense an earlier attempt created, as `lookups.adopt_earlier` finds other objects,
    but looked up by TxnDate and the marker (Purchase's payee is not a filterable CustomerRef)."""
    row = await write_intents.get(ctx.session, ctx.connection.id, EXPENSE_LINK, refund_id)
    if row is None:
        return None
    wait = await write_intents.seconds_to_settle(ctx.session, row)
    if wait > 0:
        raise QboTransientError(
            f"an earlier attempt to create this refund's expense in QuickBooks may still be "
            f"running; looking for it in {wait:.0f} s",
            retry_after_s=wait,
        )
    found: str | None = None
    if row.qbo_id is not None:
        try:
            found = (await ctx.qbo.read(Purchase, row.qbo_id)).Id
        except QboNotFoundError:
            found = None
    else:
        select = Select(Purchase).where("TxnDate", "=", day)
        async for page in ctx.qbo.query_all(select, Purchase):
            found = found or next((p.Id for p in page if note in (p.PrivateNote or "")), None)
    if found is not None:
        ctx.notes.append(f"adopted QuickBooks Purchase {found}, created by an earlier attempt")
        await write_intents.clear(ctx.session, ctx.connection.id, EXPENSE_LINK, refund_id)
        await _link(ctx, EXPENSE_LINK, refund_id, found, None)
    return found


async def _close(
    ctx: FlowContext,
    data: RefundData,
    customer_id: str,
    memo_id: str,
    expense_id: str,
    day: date,
    note: str,
) -> str:
    """A Payment of 0 using the credit memo's credit for the expense: both closed."""
    amount = data.amount
    body = for_write(
        Payment(
            CustomerRef=Ref(value=customer_id),
            TotalAmt=Decimal(0),
            TxnDate=day,
            PrivateNote=note,
            CurrencyRef=currency_ref(ctx, data.currency),
            Line=[
                PaymentLine(
                    Amount=amount, LinkedTxn=[LinkedTxn(TxnId=expense_id, TxnType="Expense")]
                ),
                PaymentLine(
                    Amount=amount, LinkedTxn=[LinkedTxn(TxnId=memo_id, TxnType="CreditMemo")]
                ),
            ],
        )
    )
    lookup = Lookup(customer_id=customer_id, txn_date=day.isoformat(), marker=note, amount="0")
    intent = Intent(PAYMENT_LINK, data.id, ctx.request_id("payment"), lookup)
    created, _ = await create_once(ctx, intent, body)
    assert created.Id is not None
    await _link(ctx, PAYMENT_LINK, data.id, created.Id, created.SyncToken)
    return created.Id


async def _link(
    ctx: FlowContext, kind: str, refund_id: str, qbo_id: str, sync_token: str | None
) -> None:
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=kind,
        crm_id=refund_id,
        qbo_id=qbo_id,
        origin=LinkOrigin.CRM,
        sync_token=sync_token,
    )
