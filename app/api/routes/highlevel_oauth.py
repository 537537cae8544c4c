"""HighLevel Marketplace install: the authorization link and the redirect URL, then the card."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.errors import AppError
from app.integrations.highlevel.oauth import HighLevelGrantError
from app.logging import get_logger
from app.services.highlevel import REDIRECT_PATH
from app.state import app_state
from app.sync.highlevel.install import complete_install
from app.web import card_actions
from app.web.card_tokens import CardSigner
from app.web.render import render

log = get_logger(__name__)

router = APIRouter()

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(reason: str, status: int) -> HTMLResponse:
    return HTMLResponse(render("invalid.html", reason=reason), status_code=status, headers=_HEADERS)


@router.get(
    "/v1/highlevel/install",
    response_model=None,
    responses={
        303: {"description": "To HighLevel's page for choosing the sub-account"},
        404: {"description": "This deployment has no HighLevel app (HIGHLEVEL_CLIENT_ID unset)"},
    },
)
async def install(request: Request) -> Response:
    """Send the agency admin to HighLevel's page for choosing the sub-account to install on."""
    oauth = app_state(request).services.highlevel.oauth
    if oauth is None:
        # Not a fault of the service: a deployment without a HighLevel app has no install link,
        # so the link is answered like any unknown page (a 5xx would page the operator).
        return _page("This service has no HighLevel app configured (HIGHLEVEL_CLIENT_ID).", 404)
    return RedirectResponse(oauth.authorization_url(), status_code=303)


@router.get(REDIRECT_PATH, response_model=None)
async def oauth_callback(request: Request, code: str = "", error: str = "") -> Response:
    """HighLevel's redirect after the install: keep the tokens, then open the location's card."""
    state = app_state(request)
    if error or not code:
        log.warning("highlevel.install.refused", error=error or "no code")
        return _page("The app was not installed on HighLevel. Please try again.", 400)
    try:
        location_id = await complete_install(state.session_factory, state.services.highlevel, code)
    except HighLevelGrantError as exc:
        log.warning("highlevel.install.grant_refused", error=str(exc))
        return _page("HighLevel did not accept this install link. Please install again.", 400)
    except AppError as exc:
        log.warning("highlevel.install.failed", error=str(exc))
        return _page(f"The install could not finish: {exc.public_detail()}", exc.http_status)
    keys = [key.get_secret_value() for key in state.settings.token_encryption_keys]
    token, _ = CardSigner(keys).issue(location_id)
    url = card_actions.card_url("", token, notice="highlevel_installed")
    return RedirectResponse(url, status_code=303)
