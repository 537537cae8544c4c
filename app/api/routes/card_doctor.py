"""The card's Health check buttons: run the doctor again, choose the deposit account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.api.routes.card import TokenField, _back, _grant, _refused
from app.errors import AppError
from app.sync.connections import payment_accounts
from app.sync.doctor import run as doctor

router = APIRouter()


@router.post("/v1/card/doctor", response_model=None)
async def run_doctor(request: Request, token: TokenField = "") -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    try:
        await doctor.run_doctor(state.session_factory, state.services, grant.location_id, "manual")
    except AppError:
        return _back(token, "doctor_failed")
    return _back(token, "doctor_ran")


@router.post("/v1/card/deposit-account", response_model=None)
async def deposit_account(
    request: Request, token: TokenField = "", account_id: Annotated[str, Form()] = ""
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    choice = payment_accounts.Choice("deposit_account_id", account_id or None)
    try:
        await payment_accounts.set_payment_accounts(
            state.session_factory, state.services, grant.location_id, [choice]
        )
    except AppError:
        return _back(token, "deposit_refused")
    return _back(token, "deposit_set")
