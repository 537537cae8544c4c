"""The backstop poller: HighLevel drops a webhook on any answer but 429 and sends none for
subscription renewals or refunds (help.gohighlevel.com article 155000007071; issue
GoHighLevel/highlevel-api-docs#257), so every installed location with tokens is read every
HIGHLEVEL_POLL_INTERVAL_S: invoices changed since the watermark, completed orders and payment
transactions. Each fact gets the event id the webhook path gives it (translate.fact_id), so the
exactly-once intake stores it once whichever path saw it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.db.session import SessionFactory, session_scope
from app.errors import AppError, PermanentError
from app.integrations.crm.schemas import validate_event
from app.integrations.highlevel.reads import HighLevelReads
from app.integrations.highlevel.webhooks import HlTransaction
from app.logging import get_logger
from app.repositories import highlevel_locations, highlevel_refunds
from app.sync.highlevel.inbound import InboundDeps, store_outcome
from app.sync.highlevel.translate import (
    CENT,
    Ignored,
    Outcome,
    Translated,
    fact_id,
    invoice_event,
)
from app.sync.highlevel.translate_orders import order_event

log = get_logger(__name__)

# The list endpoints filter by day (startAt, YYYY-MM-DD); one day back covers the boundary and
# time zones, and the fact ids make the re-read items duplicates.
OVERLAP = timedelta(days=1)
# A subscription's first charge is made with its order; later ones are renewals.
FIRST_CHARGE_WINDOW = timedelta(hours=1)
# A first poll of a location reaches this far back from its install.
FIRST_LOOKBACK = timedelta(days=1)


@dataclass(slots=True)
class PollReport:
    location_id: str
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0


async def due_locations(
    factory: SessionFactory, now: datetime, interval: timedelta
) -> list[tuple[str, datetime]]:
    """Installed locations with tokens whose last poll is older than the interval, with the
    time the poll reads from (the watermark, else just before the install)."""
    async with session_scope(factory) as session:
        rows = await highlevel_locations.installed(session)
    due: list[tuple[str, datetime]] = []
    for row in rows:
        if row.access_token_enc is None:
            continue
        if row.last_polled_at is not None and row.last_polled_at > now - interval:
            continue
        due.append((row.location_id, row.poll_watermark or row.installed_at - FIRST_LOOKBACK))
    return due


async def poll_all(deps: InboundDeps, due: list[tuple[str, datetime]]) -> list[PollReport]:
    """Poll each due location (from :func:`due_locations`)."""
    reports = []
    for location_id, since in due:
        try:
            reports.append(await poll_location(deps, location_id, since))
        except AppError as exc:
            # The watermark stays: the next round reads the same span again.
            log.warning("highlevel.poll.failed", location_id=location_id, error=str(exc))
    return reports


def _count(report: PollReport, status: str) -> None:
    if status == "accepted":
        report.accepted += 1
    elif status == "duplicate":
        report.duplicates += 1
    else:
        report.ignored += 1


async def poll_location(deps: InboundDeps, location_id: str, since: datetime) -> PollReport:
    """Read what changed since `since` and store each fact; the watermark moves to the poll's
    start only once everything was read and stored."""
    assert deps.reads is not None
    started = deps.now()
    report = PollReport(location_id)
    async with session_scope(deps.factory) as session:
        row = await highlevel_locations.get(session, location_id)
        opted_in = bool(row and row.live_mode_opt_in)
    start_day = (since - OVERLAP).date()
    for outcome in await _invoice_outcomes(deps.reads, location_id, since, start_day, opted_in):
        _count(report, (await store_outcome(deps, outcome, location_id)).status)
    for outcome in await _order_outcomes(deps.reads, location_id, since, start_day, opted_in):
        _count(report, (await store_outcome(deps, outcome, location_id)).status)
    for txn in await deps.reads.transactions_since(location_id, start_day):
        renewal = await is_renewal(deps.reads, location_id, txn)
        async with session_scope(deps.factory) as session:
            refunded = await highlevel_refunds.stored_refunds(
                session, location_id, refund_prefix(txn)
            )
        outcomes = transaction_outcomes(
            txn, location_id, renewal=renewal, opted_in=opted_in, refunded_before=refunded
        )
        for outcome in outcomes:
            _count(report, (await store_outcome(deps, outcome, location_id)).status)
    async with session_scope(deps.factory) as session:
        await highlevel_locations.set_watermark(session, location_id, started)
    log.info(
        "highlevel.poll.done",
        location_id=location_id,
        accepted=report.accepted,
        duplicates=report.duplicates,
        ignored=report.ignored,
    )
    return report


def _after(text: str | None, since: datetime) -> bool:
    if not text:
        return True
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) >= since - timedelta(minutes=5)
    except ValueError:
        return True


async def _invoice_outcomes(
    reads: HighLevelReads, location_id: str, since: datetime, start_day: date, opted_in: bool
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for invoice in await reads.invoices_since(location_id, start_day):
        if not _after(invoice.updatedAt, since) or invoice.status == "draft":
            continue
        if invoice.liveMode is False and not opted_in:
            continue
        outcomes.append(invoice_event(invoice, location_id, from_api=True))
    return outcomes


async def _order_outcomes(
    reads: HighLevelReads, location_id: str, since: datetime, start_day: date, opted_in: bool
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    rows = await reads.completed_orders_since(location_id, start_day)
    for row in rows:
        updated = row.get("updatedAt")
        if not _after(updated if isinstance(updated, str) else None, since):
            continue
        if row.get("liveMode") is False and not opted_in:
            continue
        order_id = row.get("_id")
        if not isinstance(order_id, str):
            continue
        # The list omits the items: the order itself is read.
        order = await reads.order(location_id, order_id)
        outcomes.append(order_event(order, location_id, from_api=True))
    return outcomes


async def is_renewal(reads: HighLevelReads, location_id: str, txn: HlTransaction) -> bool:
    """A subscription's charge other than its order's first one. HighLevel's transaction example
    (apps/payments.json TxnResponseSchema) is one: entityType "order", a subscriptionId. Its
    first charge pays the order itself (synced as the order); a charge well after the order was
    created, or naming no readable order, is a renewal. (UNKNOWN: HighLevel documents no field
    saying "renewal"; see the README.)"""
    if not txn.subscriptionId:
        return False
    if txn.entityType != "order" or not txn.entityId:
        return True
    try:
        order = await reads.order(location_id, txn.entityId)
    except PermanentError:
        return True
    return abs(_instant(txn.createdAt) - _instant(order.createdAt)) > FIRST_CHARGE_WINDOW


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def refund_prefix(txn: HlTransaction) -> str:
    return f"{txn.id}-refund-"


def transaction_outcomes(
    txn: HlTransaction,
    location_id: str,
    *,
    renewal: bool,
    opted_in: bool,
    refunded_before: Decimal = Decimal(0),
) -> list[Outcome]:
    """A renewal (no webhook) as a payment; a refunded amount as a refund of the payment the
    transaction paid (the renewal itself, else the order)."""
    if txn.liveMode is False and not opted_in:
        return []
    outcomes: list[Outcome] = []
    if renewal:
        outcomes.append(_renewal(txn, location_id))
    # HighLevel gives the running total refunded; each new part is one refund of its own.
    if txn.amountRefunded.quantize(CENT) > refunded_before:
        outcomes.append(_refund(txn, location_id, renewal=renewal, before=refunded_before))
    return outcomes


def _contact(txn: HlTransaction) -> dict[str, object]:
    return {
        "id": txn.contactId or f"hl-txn-{txn.id}",
        "email": txn.contactEmail,
        "first_name": txn.contactName,
    }


def _renewal(txn: HlTransaction, location_id: str) -> Outcome:
    amount = format(txn.amount.quantize(CENT), "f")
    # A transaction carries its amount only, no lines or tax: booked as one untaxed line.
    document = {
        "id": fact_id("payment", txn.id, txn.createdAt, txn.amount),
        "type": "payment.succeeded",
        "occurred_at": txn.createdAt,
        "location_id": location_id,
        "data": {
            "id": txn.id,
            "source": "subscription",
            "paid_at": txn.createdAt,
            "currency": txn.currency,
            "contact": _contact(txn),
            "billing_email": txn.contactEmail,
            "line_items": [{"name": "Subscription renewal", "quantity": "1", "unit_price": amount}],
            "totals": {"subtotal": amount, "discount": "0", "tax": "0", "total": amount},
            "payment_method": "HighLevel",
            "reference": f"HighLevel transaction {txn.id}"
            + (f" (subscription {txn.subscriptionId})" if txn.subscriptionId else ""),
        },
    }
    return _valid(document)


def _refund(txn: HlTransaction, location_id: str, *, renewal: bool, before: Decimal) -> Outcome:
    if txn.entityType == "invoice":
        return Ignored("a refund of an invoice payment is not read from transactions")
    # The payment our events named: the renewal's own id, else the order's.
    payment_id = (
        txn.entityId if not renewal and txn.entityType == "order" and txn.entityId else txn.id
    )
    refunded = txn.amountRefunded.quantize(CENT)
    at = txn.updatedAt or txn.createdAt
    return _valid(
        {
            "id": fact_id("refund", txn.id, refunded),
            "type": "payment.refunded",
            "occurred_at": at,
            "location_id": location_id,
            "data": {
                "id": f"{refund_prefix(txn)}{refunded}",
                "payment_id": payment_id,
                "refunded_at": at,
                "currency": txn.currency,
                "amount": format(refunded - before, "f"),
                "contact": _contact(txn),
            },
        }
    )


def _valid(document: Mapping[str, object]) -> Outcome:
    try:
        return Translated(validate_event(document))
    except ValueError as exc:
        return Ignored(f"cannot be expressed as our event: {exc}")
