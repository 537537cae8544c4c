"""The card's reconciliation page: run the report for a period, show it, Re-sync a line.

Token-guarded like the rest of the card (app/api/routes/card.py); buttons answer with a 303
back to the page, which shows the stored run."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.routes.card import TokenField, _grant, _page, _refused
from app.db.session import session_scope
from app.errors import AppError
from app.ids import parse_row_id
from app.logging import get_logger
from app.sync.reconcile import resync as resync_rules
from app.sync.reconcile import run as reconcile_rules
from app.web import card_reconciliation
from app.web.render import render

router = APIRouter()
log = get_logger(__name__)

PAGE = "/v1/card/reconciliation"


def _back(token: str, run_id: int | None = None, notice: str | None = None) -> RedirectResponse:
    params = {"token": token}
    if run_id is not None:
        params["run"] = str(run_id)
    if notice is not None:
        params["notice"] = notice
    return RedirectResponse(f"{PAGE}?{urlencode(params)}", status_code=303)


@router.get(PAGE, response_class=HTMLResponse)
async def page(
    request: Request, token: str = "", run: str | None = None, notice: str | None = None
) -> HTMLResponse:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    run_id = parse_row_id(run) if run else None
    async with session_scope(state.session_factory) as session:
        rec = await card_reconciliation.load(session, grant.location_id, run_id)
    html = render(
        "card_reconciliation.html",
        rec=rec,
        token=token,
        labels=card_reconciliation.LABELS,
        kinds=card_reconciliation.KINDS,
        notice=card_reconciliation.NOTICES.get(notice or ""),
    )
    return _page(html)


@router.post(PAGE, response_model=None)
async def run_report(
    request: Request,
    token: TokenField = "",
    period_from: Annotated[str, Form(alias="from")] = "",
    period_to: Annotated[str, Form(alias="to")] = "",
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    try:
        start, end = date.fromisoformat(period_from), date.fromisoformat(period_to)
        report = await reconcile_rules.reconcile(
            state.session_factory, state.services, grant.location_id, start, end
        )
    except (ValueError, AppError) as exc:
        log.info("card.reconcile_failed", location_id=grant.location_id, error=str(exc))
        return _back(token, notice="run_failed")
    return _back(token, report.run_id)


@router.post(f"{PAGE}/resync", response_model=None)
async def resync(
    request: Request,
    token: TokenField = "",
    kind: Annotated[str, Form()] = "",
    crm_id: Annotated[str, Form()] = "",
    run: Annotated[str, Form()] = "",
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    run_id = parse_row_id(run)
    try:
        await resync_rules.resync(
            state.session_factory,
            state.services,
            state.job_app,
            grant.location_id,
            kind,
            crm_id,
        )
    except AppError as exc:
        log.info("card.resync_refused", location_id=grant.location_id, error=str(exc))
        return _back(token, run_id, "resync_refused")
    return _back(token, run_id, "resync_queued")
