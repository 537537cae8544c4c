"""The settings doctor of a connection (docs/design.md, "Settings doctor"): its last result, or
a fresh run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from app.api.auth import require_crm_api_key
from app.db.session import session_scope
from app.state import app_state
from app.sync.doctor import run as doctor

router = APIRouter(dependencies=[Depends(require_crm_api_key)])

_RUN = "Run the checks now (reads QuickBooks) instead of answering the stored result."


@router.get(
    "/v1/connections/{location_id}/doctor",
    responses={
        404: {"description": "Unknown location"},
        409: {"description": "No QuickBooks company connected yet (not_connected)"},
    },
)
async def get_doctor(
    request: Request, location_id: str, run: bool = Query(default=False, description=_RUN)
) -> dict[str, Any]:
    """The health check of the connection's QuickBooks settings: each check `ok`, `warn` or
    `fail`, with a plain sentence and what to do; `status` is the worst of them. The checks run
    at connect and daily; the last result is answered (run now if there is none, or `run=true`).
    `deposit_accounts` lists the company's Bank and Other Current Asset accounts, the choices for
    `deposit_account_id`."""
    state = app_state(request)
    if not run:
        async with session_scope(state.session_factory) as session:
            stored = await doctor.latest(session, location_id)
        if stored is not None:
            return stored.as_json()
    report = await doctor.run_doctor(state.session_factory, state.services, location_id, "manual")
    return report.as_json()
