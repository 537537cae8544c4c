"""Checks of the books: QBO's answer to a transaction dated on the closing date and the day after
(app/integrations/quickbooks/errors.py QboPeriodClosedError), and what applying a Payment does to
the invoice it pays (app/sync/own_echoes.py takes the invoice's Update for our echo)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.integrations.quickbooks.contract.checks_money import cents
from app.integrations.quickbooks.contract.model import Check, Needs, Outcome
from app.integrations.quickbooks.contract.raw import Answer, entity_of
from app.integrations.quickbooks.contract.session import CheckSession
from app.integrations.quickbooks.contract.targets import SkipCheck

# The emulator company's closing date (any past day does).
EMULATOR_CLOSED = "2026-01-31"


def _answer(answer: Answer) -> str:
    if answer.ok:
        return str(answer.status)
    errors = answer.errors()
    first = errors[0] if errors else {}
    return f"{answer.status} {first.get('code')} {first.get('Message')}"


async def _closing_date(session: CheckSession) -> str | None:
    prefs = await session.qbo.send("GET", "preferences")
    accounting = entity_of(prefs, "Preferences", "read Preferences").get("AccountingInfoPrefs")
    closed = accounting.get("BookCloseDate") if isinstance(accounting, dict) else None
    return str(closed)[:10] if closed else None


async def _lines(session: CheckSession) -> list[dict[str, Any]]:
    item = await session.item_id()
    detail = {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": "10.00"}
    return [{"DetailType": "SalesItemLineDetail", "Amount": "10.00", "SalesItemLineDetail": detail}]


async def closed_period(session: CheckSession) -> Outcome:
    closed = await _closing_date(session)
    if closed is None:
        raise SkipCheck(
            "the company's books are not closed (Settings > Account and settings > Advanced > "
            "Accounting > Close the books): close them through a past date and run again"
        )
    lines = await _lines(session)
    on = await session.invoice(lines, TxnDate=closed)
    after = await session.invoice(
        lines, TxnDate=(date.fromisoformat(closed) + timedelta(1)).isoformat()
    )
    observed = f"dated on the closing date {_answer(on)}; the day after {_answer(after)}"
    expected = "dated on the closing date 400 5010 Account Period Closed; the day after 200"
    details = {"closing_date": closed, "on": on.summary(), "after": after.summary()}
    return Outcome(expected, observed, observed == expected, details)


def _stamp(entity: dict[str, Any]) -> str:
    meta = entity.get("MetaData")
    updated = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
    # To the second: webhooks and the service's stored stamps carry no finer time.
    return str(updated)[:19] if updated else "-"


async def payment_applied(session: CheckSession) -> Outcome:
    invoice = await session.invoice_ok(await _lines(session))
    body = {
        "PrivateNote": f"{session.prefix} {session.tag}",
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": "4.00",
        "Line": [{"Amount": "4.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    payment = entity_of(await session.create("Payment", body), "Payment", "create payment")
    read = entity_of(await session.qbo.read("Invoice", invoice["Id"]), "Invoice", "read invoice")
    moved = int(read["SyncToken"]) - int(invoice["SyncToken"])
    same_time = _stamp(read) == _stamp(payment)
    observed = (
        f"SyncToken +{moved}, LastUpdatedTime {'=' if same_time else '!='} the Payment's, "
        f"Balance {cents(read.get('Balance'))}"
    )
    expected = "SyncToken +1, LastUpdatedTime = the Payment's, Balance 6.00"
    details = {
        "invoice_created": _stamp(invoice),
        "invoice_after": _stamp(read),
        "payment": _stamp(payment),
    }
    return Outcome(expected, observed, observed == expected, details)


CHECKS = (
    Check(
        name="invoice dated in a closed period",
        source="routablehq/python-quickbooks issue #208 (a real 5010 'Account Period Closed' "
        "answer to an Invoice create); Intuit help 'Close your books in QuickBooks Online'. The "
        "HTTP status and whether the 'allow changes after a warning' option lets the API write "
        "are UNKNOWN",
        sends="an invoice dated on the company's closing date (Preferences.AccountingInfoPrefs."
        "BookCloseDate), then one dated the day after",
        expects="the first refused with 400 5010 Account Period Closed, the second accepted",
        run=closed_period,
        needs=Needs(settings={"book_close_date": EMULATOR_CLOSED}),
        unknown=True,
    ),
    Check(
        name="payment applied to an invoice",
        source="../shared/reference/qbo-samples/au-tax-inclusive-invoices.json (real invoices "
        "paid by a Payment hold SyncToken 1, and five paid by Payment 2615 share one "
        "LastUpdatedTime to the second: applying a Payment updates the invoice). That the "
        "time equals the Payment's own, and that QBO sends an Invoice Update webhook for it, "
        "are UNKNOWN (no webhook receiver in verify-qbo: see qbo_emulator/README.md)",
        sends="a 10.00 invoice, then a Payment of 4.00 linking it; reads the invoice",
        expects="SyncToken one higher, LastUpdatedTime the Payment's to the second, Balance 6.00",
        run=payment_applied,
        unknown=True,
    ),
)
