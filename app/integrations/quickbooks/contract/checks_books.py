"""A check of the books' closing date: QBO's answer to a transaction dated on the closing date,
and the day after (app/integrations/quickbooks/errors.py QboPeriodClosedError)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

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
)
