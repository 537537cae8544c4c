"""The card's reconciliation page: the view of a stored run, and its fixed notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.sync.reconcile.model import VERDICTS
from app.sync.reconcile.run import stored_run

# Only fixed texts: the query string is never echoed into the page.
NOTICES: dict[str, tuple[str, str]] = {
    "resync_queued": (
        "ok",
        "Re-sync queued: the CRM's version is applied again. Run the report "
        "again in a moment to see the result.",
    ),
    "resync_refused": ("error", "This line cannot be re-synced from here; its reason is shown."),
    "run_failed": ("error", "The report could not be made; check the dates and try again."),
}

LABELS = {
    "matched": "Matched",
    "mismatch": "Mismatch",
    "missing_in_qbo": "Missing in QuickBooks",
    "changed_in_qbo": "Changed in QuickBooks",
    "skipped": "Skipped",
}
KINDS = {"invoice": "Invoice", "sales_receipt": "Payment", "refund": "Refund"}


@dataclass(frozen=True, slots=True)
class ReconciliationView:
    period_from: date
    period_to: date
    run: dict[str, Any] | None
    verdicts: tuple[str, ...] = VERDICTS


def default_period(today: date | None = None) -> tuple[date, date]:
    """This year so far: the period a bookkeeper checks most."""
    day = today or datetime.now(UTC).date()
    return date(day.year, 1, 1), day


async def load(session: AsyncSession, location_id: str, run_id: int | None) -> ReconciliationView:
    report = await stored_run(session, location_id, run_id)
    if report is None:
        start, end = default_period()
        return ReconciliationView(start, end, None)
    return ReconciliationView(report.period_from, report.period_to, report.as_json())
