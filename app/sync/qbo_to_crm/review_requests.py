"""Q2: ask the CRM for a review request when a QBO customer's first invoice is paid in full.

Once per QBO customer, across webhooks, CDC, retries and restarts: the decision (sent, or why
not) is a row of `review_requests`, unique per customer, inserted in the transaction that also
writes the `review_request.send` callback and the sync-log entry. Whichever transaction inserts
it first decides; every later one sees the row and does nothing.

"First" is the customer's earliest-paid invoice by the time its balance reached 0: the newest
creation time of the Payments linked to it (the invoice's last update when none are linked).
So reordered changes of two paid invoices still name the first one, and an invoice paid before
the connection was made is history: neither it nor any later invoice of that customer asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.query import Select
from app.integrations.quickbooks.transactions import Invoice, Payment
from app.models import SyncLogEntry
from app.models.states import Direction, SyncState
from app.repositories import crm_callbacks, qbo_links, review_requests, sync_log
from app.sync.flow import FlowContext
from app.sync.mapping.crm_payloads import review_request

KIND = "review_request"
SENT = "sent"
TOGGLE_OFF = "toggle_off"
PAID_BEFORE_CONNECTING = "paid_before_connecting"
HAD_PAID_INVOICE_BEFORE = "had_paid_invoice_before"
_ID_CHUNK = 500

MESSAGES = {
    SENT: "review request sent for the customer's first fully paid invoice",
    TOGGLE_OFF: "review automation was off when the customer's first invoice was paid",
    PAID_BEFORE_CONNECTING: "the invoice was paid before QuickBooks was connected",
    HAD_PAID_INVOICE_BEFORE: "the customer already had a paid invoice before QuickBooks was "
    "connected",
}


def fully_paid(invoice: Invoice) -> bool:
    total = invoice.TotalAmt or Decimal(0)
    return total > 0 and invoice.Balance is not None and invoice.Balance == 0


def decide(
    paid_at: dict[str, datetime], trigger_id: str, connected_at: datetime | None, automation: bool
) -> tuple[str, str]:
    """(decision, invoice id) from when each of the customer's paid invoices was paid."""
    first = min(paid_at, key=lambda invoice_id: (paid_at[invoice_id], _id_order(invoice_id)))
    # QBO's times have whole seconds: a payment in the second of connecting counts as after it.
    if connected_at is not None and paid_at[first] < connected_at.replace(microsecond=0):
        if first == trigger_id:
            return PAID_BEFORE_CONNECTING, first
        return HAD_PAID_INVOICE_BEFORE, first
    if not automation:
        return TOGGLE_OFF, first
    return SENT, first


def _id_order(invoice_id: str) -> tuple[int, str]:
    return (int(invoice_id), "") if invoice_id.isdigit() else (0, invoice_id)


async def consider(ctx: FlowContext, invoice: Invoice, change_id: int | None) -> str | None:
    """Decide for the invoice's customer if this paid invoice may be its first; the decision."""
    customer_id = invoice.CustomerRef.value if invoice.CustomerRef else None
    if not fully_paid(invoice) or customer_id is None or invoice.Id is None:
        return None
    connection = ctx.connection
    if await review_requests.decision_for(ctx.session, connection.id, customer_id) is not None:
        return None
    paid = {i.Id: i for i in await _paid_invoices(ctx, customer_id) if i.Id and fully_paid(i)}
    paid[invoice.Id] = invoice
    paid_at = await _paid_times(ctx, paid.values())
    decision, first_id = decide(
        paid_at, invoice.Id, connection.connected_at, connection.review_automation
    )
    if not await review_requests.decide(
        ctx.session, connection.id, customer_id, first_id, decision
    ):
        return None
    await _record(ctx, decision, customer_id, first_id, paid_at[first_id], change_id)
    return decision


async def _paid_invoices(ctx: FlowContext, customer_id: str) -> list[Invoice]:
    select = (
        Select(Invoice).where("CustomerRef", "=", customer_id).where("Balance", "=", Decimal(0))
    )
    found: list[Invoice] = []
    async for page in ctx.qbo.query_all(select, Invoice):
        found.extend(page)
    return found


async def _paid_times(ctx: FlowContext, invoices: Iterable[Invoice]) -> dict[str, datetime]:
    invoices = list(invoices)
    payment_ids = sorted(
        {
            link.TxnId
            for invoice in invoices
            for link in invoice.LinkedTxn or []
            if link.TxnType == "Payment" and link.TxnId
        }
    )
    created: dict[str, datetime] = {}
    for start in range(0, len(payment_ids), _ID_CHUNK):
        chunk = payment_ids[start : start + _ID_CHUNK]
        page = await ctx.qbo.query(Select(Payment).where("Id", "IN", chunk), Payment)
        for payment in page.items:
            if payment.Id and payment.MetaData and payment.MetaData.CreateTime:
                created[payment.Id] = payment.MetaData.CreateTime
    return {invoice.Id or "": _paid_at(invoice, created) for invoice in invoices}


def _paid_at(invoice: Invoice, payment_created: dict[str, datetime]) -> datetime:
    times = [
        payment_created[link.TxnId]
        for link in invoice.LinkedTxn or []
        if link.TxnType == "Payment" and link.TxnId in payment_created
    ]
    if times:
        return max(times)
    meta = invoice.MetaData
    if meta is not None and meta.LastUpdatedTime is not None:
        return meta.LastUpdatedTime
    return datetime.now(UTC)


async def _record(
    ctx: FlowContext,
    decision: str,
    customer_id: str,
    invoice_id: str,
    paid_at: datetime,
    change_id: int | None,
) -> None:
    links = await qbo_links.by_qbo_ids(ctx.session, ctx.connection.id, "customer", [customer_id])
    link = links.get(customer_id)
    crm_id = link.crm_id if link is not None else None
    if decision == SENT:
        customer = await ctx.qbo.read(Customer, customer_id)
        callback = review_request(
            customer_id=customer_id,
            customer=customer,
            invoice_id=invoice_id,
            crm_contact_id=crm_id,
            paid_date=paid_at.date(),
        )
        await crm_callbacks.enqueue(ctx.session, ctx.connection.location_id, callback)
    await sync_log.add(
        ctx.session,
        SyncLogEntry(
            connection_id=ctx.connection.id,
            direction=Direction.QBO_TO_CRM,
            kind=KIND,
            crm_id=crm_id,
            qbo_id=invoice_id,
            state=SyncState.SYNCED if decision == SENT else SyncState.SKIPPED,
            message=MESSAGES.get(decision, decision),
            qbo_change_id=change_id,
            details={
                "decision": decision,
                "qbo_customer_id": customer_id,
                "paid_at": paid_at.isoformat(),
            },
        ),
    )
