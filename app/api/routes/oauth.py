"""The browser side of connecting: the connect link, Intuit's callback, Intuit's disconnect page."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.state import app_state
from app.sync.connections.connect import Redirect

router = APIRouter()

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;
color:#1b1b1b}}h1{{font-size:1.4rem}}</style></head>
<body><main><h1>{title}</h1><p>{message}</p></main></body></html>"""


def page(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), message=escape(message)), status_code=status
    )


def _answer(redirect: Redirect) -> Response:
    if redirect.url is not None:
        return RedirectResponse(redirect.url, status_code=302)
    return page("QuickBooks connection", redirect.page or "Something went wrong.", 400)


@router.get("/v1/oauth/connect", response_class=RedirectResponse, status_code=302)
async def connect(request: Request, state: str | None = None) -> Response:
    """Send the browser to Intuit's consent page for this connect attempt."""
    return _answer(await app_state(request).connect.authorize(state))


@router.get("/v1/oauth/callback", response_class=RedirectResponse, status_code=302)
async def callback(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    realmId: str | None = None,  # noqa: N803 - Intuit's parameter name
    error: str | None = None,
) -> Response:
    """Intuit's redirect after consent: exchange the code, read the company, back to the CRM."""
    redirect = await app_state(request).connect.callback(
        state=state, code=code, realm_id=realmId, error=error
    )
    return _answer(redirect)


_REASONS = {
    "access_denied": "The connection was cancelled in QuickBooks.",
    "link_used_or_expired": "This connect link was already used or has expired (10 minutes).",
    "token_exchange_failed": "QuickBooks did not accept the authorization. Please try again.",
    "company_settings_unreadable": "The company's settings could not be read. Please try again.",
    "realm_in_use": "This QuickBooks company is already connected to another account.",
    "different_company": "This account is linked to a different QuickBooks company.",
}


@router.get("/v1/oauth/done", response_class=HTMLResponse)
async def done(status: str | None = None, reason: str | None = None) -> HTMLResponse:
    """A plain landing page for a connect flow started without a CRM page to return to."""
    if status == "connected":
        return page("QuickBooks connected", "You can close this window.", 200)
    message = _REASONS.get(reason or "", f"The connection did not complete ({reason}).")
    return page("QuickBooks not connected", message, 200)


@router.get("/v1/oauth/disconnected", response_class=HTMLResponse)
async def disconnected() -> HTMLResponse:
    """Where Intuit sends a user who disconnected the app inside QuickBooks."""
    return page(
        "QuickBooks disconnected",
        "This QuickBooks company is no longer connected. Syncing has stopped; nothing already "
        "synced was removed. Reconnect from the integration settings in your CRM to resume.",
        200,
    )
