"""The reconciliation report of a connection (docs/design.md, "Reconciliation report") and its
Re-sync action. Thin: app/sync/reconcile does the work."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.auth import require_crm_api_key
from app.db.session import session_scope
from app.errors import AppError
from app.ids import RowId
from app.state import app_state
from app.sync.reconcile import resync as resync_rules
from app.sync.reconcile import run as reconcile_rules

router = APIRouter(dependencies=[Depends(require_crm_api_key)])

_FROM = "First day of the period (YYYY-MM-DD), inclusive."
_TO = "Last day of the period (YYYY-MM-DD), inclusive; at most 367 days after `from`."


class RunNotFoundError(AppError):
    http_status = 404
    public_code = "not_found"


@router.get(
    "/v1/connections/{location_id}/reconciliation",
    responses={
        404: {"description": "Unknown location"},
        409: {"description": "No QuickBooks company connected yet (not_connected)"},
        422: {"description": "A date that is not YYYY-MM-DD, or `to` before `from`"},
    },
)
async def get_reconciliation(
    request: Request,
    location_id: str,
    period_from: Annotated[date, Query(alias="from", description=_FROM)],
    period_to: Annotated[date, Query(alias="to", description=_TO)],
) -> dict[str, Any]:
    """Every CRM document of the period (invoices, payments that settle no invoice, refunds)
    beside its QuickBooks document: both totals, amount paid and balance, and a verdict
    (`matched`, `mismatch`, `missing_in_qbo`, `changed_in_qbo`, `skipped`) with the fields that
    differ or the reason. `summary` sums the lines per verdict and per currency. QuickBooks is
    read in batches of 1000; the run's progress is readable meanwhile at
    `.../reconciliation/runs/{run_id}` (the latest run: `.../reconciliation/runs/latest`)."""
    state = app_state(request)
    report = await reconcile_rules.reconcile(
        state.session_factory, state.services, location_id, period_from, period_to
    )
    return report.as_json()


@router.get(
    "/v1/connections/{location_id}/reconciliation/runs/latest",
    responses={404: {"description": "Unknown location, or no run yet"}},
)
async def latest_run(request: Request, location_id: str) -> dict[str, Any]:
    """The latest run, finished or still running (then `progress` says how far it is)."""
    return await _stored(request, location_id, None)


@router.get(
    "/v1/connections/{location_id}/reconciliation/runs/{run_id}",
    responses={404: {"description": "Unknown location or run"}},
)
async def get_run(request: Request, location_id: str, run_id: RowId) -> dict[str, Any]:
    """One run: `state` running (with `progress`), done (with its lines) or failed."""
    return await _stored(request, location_id, run_id)


async def _stored(request: Request, location_id: str, run_id: int | None) -> dict[str, Any]:
    state = app_state(request)
    async with session_scope(state.session_factory) as session:
        report = await reconcile_rules.stored_run(session, location_id, run_id)
    if report is None:
        raise RunNotFoundError(f"no reconciliation run for {location_id}")
    return report.as_json()


class ResyncBody(BaseModel):
    kind: Literal["invoice", "sales_receipt", "refund"] = Field(
        description="The line's `kind`: invoice, sales_receipt (a payment) or refund."
    )
    crm_id: str = Field(min_length=1, max_length=200, description="The line's `crm_id`.")


@router.post(
    "/v1/connections/{location_id}/reconciliation/resync",
    status_code=202,
    responses={
        404: {"description": "Unknown location, or the CRM never sent this document"},
        409: {"description": "Not re-syncable (imported, or a write-once document that exists)"},
    },
)
async def resync(request: Request, location_id: str, body: ResyncBody) -> JSONResponse:
    """Re-apply the CRM's newest snapshot of a document through the normal exactly-once path:
    a document deleted in QuickBooks is created again (once), an invoice edited there gets the
    CRM's version back, a missing one is synced. `action` says which."""
    state = app_state(request)
    queued = await resync_rules.resync(
        state.session_factory, state.services, state.job_app, location_id, body.kind, body.crm_id
    )
    return JSONResponse(queued.as_json(), status_code=202)
