"""The integration card: a signed link for the CRM, the page, and the page's buttons.

The card is opened by a person without the CRM's API key, so the signed token in the URL is its
only credential; every form posts it back (hidden field), which also defeats CSRF since the
token is secret and bound to one location. Buttons answer with a 303 back to the card.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from app.api.auth import require_crm_api_key
from app.api.routes.oauth import _REASONS as CONNECT_REASONS
from app.db.session import session_scope
from app.ids import parse_row_id
from app.state import AppState, app_state
from app.web import card_actions, card_highlevel, card_view
from app.web.card_tokens import CardGrant, CardSigner
from app.web.render import render

router = APIRouter()

TokenField = Annotated[str, Form()]
# The card may sit in the CRM's iframe, so framing stays allowed; everything else is locked down.
# No form-action: the Connect button's redirect chain ends at Intuit, which it would block.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL; never hand it to Intuit
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
}


class CardLink(BaseModel):
    url: str
    expires_at: datetime


def _signer(state: AppState) -> CardSigner:
    return CardSigner([key.get_secret_value() for key in state.settings.token_encryption_keys])


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _refused() -> HTMLResponse:
    reason = "This QuickBooks card link is not valid or has expired."
    return _page(render("invalid.html", reason=reason), 403)


def _back(token: str, notice: str | None = None) -> RedirectResponse:
    params = {"notice": notice} if notice else {}
    return RedirectResponse(card_actions.card_url("", token, **params), status_code=303)


@router.post(
    "/v1/connections/{location_id}/card-link",
    dependencies=[Depends(require_crm_api_key)],
    response_model=CardLink,
)
async def create_card_link(request: Request, location_id: str) -> CardLink:
    """A signed card URL for the location, valid for 30 minutes (connected or not yet)."""
    state = app_state(request)
    token, expires_at = _signer(state).issue(location_id)
    return CardLink(
        url=card_actions.card_url(state.settings.public_base_url, token), expires_at=expires_at
    )


def _notice(
    notice: str | None, status: str | None, reason: str | None, health: str
) -> tuple[str, str] | None:
    """Only fixed texts: the query string is never echoed into the page."""
    if status == "connected":
        # The outcome stays in the URL; once the connection changed again it would mislead.
        return card_actions.NOTICES["connected"] if health == "active" else None
    if status == "error":
        text = CONNECT_REASONS.get(reason or "", "QuickBooks was not connected. Please try again.")
        return ("error", text)
    return card_actions.NOTICES.get(notice or "")


@router.get("/v1/card", response_class=HTMLResponse)
async def card(
    request: Request,
    token: str = "",
    notice: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    confirm: str | None = None,
) -> HTMLResponse:
    """The card itself; an invalid or expired token gets a plain explanation (403)."""
    state = app_state(request)
    grant = _signer(state).verify(token)
    if grant is None:
        return _refused()
    async with session_scope(state.session_factory) as session:
        view = await card_view.load(session, grant.location_id)
        highlevel = await card_highlevel.load(session, grant.location_id)
    html = render(
        "card.html",
        view=view,
        highlevel=highlevel,
        token=token,
        expires_at=grant.expires_at,
        notice=_notice(notice, status, reason, view.health.key),
        confirm_disconnect=confirm == "disconnect",
        confirm_release=confirm == "release",
    )
    return _page(html)


def _grant(request: Request, token: str) -> tuple[AppState, CardGrant | None]:
    state = app_state(request)
    return state, _signer(state).verify(token)


@router.post("/v1/card/connect", response_model=None)
async def connect(
    request: Request,
    token: TokenField = "",
    import_invoices: Annotated[str | None, Form()] = None,
    review_automation: Annotated[str | None, Form()] = None,
) -> Response:
    """Start the OAuth flow with the toggles chosen; Intuit's answer comes back to the card."""
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    url = await card_actions.start_connect(
        state,
        grant.location_id,
        token,
        import_invoices=import_invoices is not None,
        review=review_automation is not None,
    )
    return RedirectResponse(url, status_code=303)


@router.post("/v1/card/reconnect", response_model=None)
async def reconnect(request: Request, token: TokenField = "") -> Response:
    """Connect again with the connection's current settings."""
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    imports, review = await card_actions.reconnect_settings(state, grant.location_id)
    url = await card_actions.start_connect(
        state, grant.location_id, token, import_invoices=imports, review=review
    )
    return RedirectResponse(url, status_code=303)


@router.post("/v1/card/review-automation", response_model=None)
async def review_automation(
    request: Request, token: TokenField = "", enabled: Annotated[str | None, Form()] = None
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    notice = await card_actions.set_review(state, grant.location_id, enabled is not None)
    return _back(token, notice)


@router.post("/v1/card/us-tax-mode", response_model=None)
async def us_tax_mode(
    request: Request, token: TokenField = "", mode: Annotated[str, Form()] = ""
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    return _back(token, await card_actions.set_us_tax_mode(state, grant.location_id, mode))


@router.post("/v1/card/disconnect", response_model=None)
async def disconnect(request: Request, token: TokenField = "") -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    return _back(token, await card_actions.disconnect(state, grant.location_id))


@router.post("/v1/card/release", response_model=None)
async def release(
    request: Request, token: TokenField = "", confirm: Annotated[str, Form()] = ""
) -> Response:
    """Release the company (disconnecting first); only from the confirmation step's form."""
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    if confirm != "release":  # not from the confirmation step: show it instead
        url = card_actions.card_url("", token, confirm="release")
        return RedirectResponse(f"{url}#release", status_code=303)
    return _back(token, await card_actions.release(state, grant.location_id))


_NOT_AN_ID = {
    "description": "entry_id is not an id (ASCII digits within a BIGINT): a page",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


@router.post("/v1/card/retry", response_model=None, responses={400: _NOT_AN_ID})
async def retry(
    request: Request, token: TokenField = "", entry_id: Annotated[str, Form()] = ""
) -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    row_id = parse_row_id(entry_id)
    if row_id is None:  # the card only ever prints ASCII ids within a BIGINT: a forged form
        reason = "This retry request names no record (the id must be digits 0-9)."
        return _page(render("invalid.html", reason=reason), 400)
    return _back(token, await card_actions.retry_one(state, grant.location_id, row_id))


@router.post("/v1/card/retry-all", response_model=None)
async def retry_all(request: Request, token: TokenField = "") -> Response:
    state, grant = _grant(request, token)
    if grant is None:
        return _refused()
    return _back(token, await card_actions.retry_all(state, grant.location_id))
