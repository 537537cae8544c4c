"""Connections (docs/design.md §2.3): the CRM backend starts, inspects, toggles and ends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.api.auth import require_crm_api_key
from app.db.session import session_scope
from app.state import app_state
from app.sync.connections import admin as connections_admin
from app.sync.connections import payment_accounts
from app.sync.connections import release as company_release
from app.sync.connections.connect import LOCATION_ID_HELP, LocationIdError
from app.sync.mapping.us import UsTaxMode
from app.text_rules import unstorable

router = APIRouter(dependencies=[Depends(require_crm_api_key)])

LocationId = str
# QuickBooks entity Ids are digit strings in every real response we hold
# (../shared/reference/qbo-samples/); anything else is refused here with the field path instead
# of reaching a QBO query.
QBO_ID_PATTERN = r"^[0-9]{1,20}$"


class ConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(min_length=1, max_length=200)
    import_invoices: bool = False
    review_automation: bool = False
    return_url: str = Field(min_length=1, max_length=2000)

    @field_validator("location_id", "return_url")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if unstorable(value):
            raise ValueError("must not contain a NUL character or an unpaired surrogate")
        return value


class ConnectLinkResponse(BaseModel):
    location_id: str
    connect_url: str
    expires_at: datetime


class ConnectionPatch(BaseModel):
    """Settings to change; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    review_automation: bool | None = None
    us_tax_mode: UsTaxMode | None = Field(
        default=None,
        description=(
            "US companies: `fold` (default) puts the CRM's sales tax and discount into the line "
            "amounts, so QuickBooks records no sales tax; `post` sends lines net of tax, the "
            "discount as a discount line and the CRM's tax as the document's sales tax "
            "(TxnTaxDetail.TotalTax), which QuickBooks records in Sales Tax Payable."
        ),
    )

    deposit_account_id: str | None = Field(
        default=None,
        pattern=QBO_ID_PATTERN,
        description=(
            "The QuickBooks account (Id) sales receipts and invoice payments deposit to: a Bank "
            "or Other Current Asset account, active. `null` goes back to QuickBooks' default, "
            "Undeposited Funds. 422 naming the field when QuickBooks has no such usable account."
        ),
    )
    fee_expense_account_id: str | None = Field(
        default=None,
        pattern=QBO_ID_PATTERN,
        description=(
            "The expense account (Expense, Other Expense or Cost of Goods Sold) a CRM payment's "
            "processor fee (`data.fee`) is booked to, as an expense paid from the deposit "
            "account (which must then be a Bank account). `null`: fees are not recorded."
        ),
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> ConnectionPatch:
        if not self.model_fields_set:
            raise ValueError(
                "give review_automation, us_tax_mode, deposit_account_id or fee_expense_account_id"
            )
        return self


class DisconnectResponse(BaseModel):
    location_id: str
    status: str = Field(description="Always `disconnected`.")
    revoked: bool = Field(description="Intuit accepted the revocation of the tokens.")
    released_realm_id: str | None = Field(
        default=None, description="With `release_company=true`: the company released."
    )
    links_archived: int | None = Field(
        default=None, description="With `release_company=true`: links moved to the archive."
    )


@router.post("/v1/connections", status_code=201, response_model=ConnectLinkResponse)
async def create_connection(request: Request, body: ConnectionRequest) -> ConnectLinkResponse:
    """Start connecting a location: a single-use connect URL valid for 10 minutes.

    A new `location_id` must match `^[A-Za-z0-9_-]{1,200}$` (422 naming `body.location_id`
    otherwise); a location registered before this rule keeps working."""
    try:
        link = await app_state(request).connect.start(
            location_id=body.location_id,
            import_invoices=body.import_invoices,
            review_automation=body.review_automation,
            return_url=body.return_url,
        )
    except LocationIdError:
        loc = ("body", "location_id")
        raise RequestValidationError(
            [{"loc": loc, "msg": LOCATION_ID_HELP, "type": "value_error"}]
        ) from None
    return ConnectLinkResponse(
        location_id=body.location_id, connect_url=link.url, expires_at=link.expires_at
    )


@router.get("/v1/connections/{location_id}", responses={404: {"description": "Unknown location"}})
async def get_connection(request: Request, location_id: LocationId) -> dict[str, Any]:
    """Status, settings, company facts, import progress and counts by state."""
    state = app_state(request)
    async with session_scope(state.session_factory) as session:
        return await connections_admin.describe(session, location_id)


@router.patch("/v1/connections/{location_id}", responses={404: {"description": "Unknown location"}})
async def patch_connection(
    request: Request, location_id: LocationId, body: ConnectionPatch
) -> dict[str, Any]:
    """Switch review automation on or off; choose how a US company's sales tax is recorded;
    choose where payments are deposited and where processor fees are booked."""
    state = app_state(request)
    choices = [
        payment_accounts.Choice(name, getattr(body, name))
        for name in ("deposit_account_id", "fee_expense_account_id")
        if name in body.model_fields_set
    ]
    if choices:
        try:
            await payment_accounts.set_payment_accounts(
                state.session_factory, state.services, location_id, choices
            )
        except payment_accounts.AccountChoiceError as exc:
            loc = ("body", exc.field)
            error = {"loc": loc, "msg": str(exc), "type": "value_error"}
            raise RequestValidationError([error]) from None
    async with session_scope(state.session_factory) as session:
        if body.review_automation is not None:
            await connections_admin.set_review_automation(
                session, location_id, body.review_automation
            )
        if body.us_tax_mode is not None:
            await connections_admin.set_us_tax_mode(session, location_id, body.us_tax_mode)
        return await connections_admin.describe(session, location_id)


_RELEASE = (
    "Also release the QuickBooks company (after disconnecting, if still connected): the "
    "company can then be connected to another location, and this location to another "
    "company. Links and review decisions are archived for audit (restored if the same company "
    "comes back to this location); the sync log and CRM events stay."
)


@router.delete(
    "/v1/connections/{location_id}",
    response_model=DisconnectResponse,
    response_model_exclude_none=True,
    responses={
        404: {"description": "Unknown location"},
        409: {"description": "release_company=true, but no company is bound (no_company)"},
    },
)
async def delete_connection(
    request: Request,
    location_id: LocationId,
    release_company: bool = Query(default=False, description=_RELEASE),
) -> JSONResponse:
    """Revoke the tokens at Intuit and mark the connection disconnected; events still wait."""
    state = app_state(request)
    if release_company:
        released = await company_release.release_company(
            state.session_factory, state.services, location_id
        )
        return JSONResponse(
            {
                "location_id": location_id,
                "status": "disconnected",
                "revoked": released.revoked,
                "released_realm_id": released.realm_id,
                "links_archived": released.links_archived,
            }
        )
    result = await connections_admin.disconnect(state.session_factory, state.services, location_id)
    return JSONResponse(
        {"location_id": location_id, "status": "disconnected", "revoked": result.revoked}
    )
