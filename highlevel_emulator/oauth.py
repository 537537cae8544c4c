"""Marketplace OAuth: the authorization page and the token endpoint.

- Authorize: `GET /oauth/chooselocation` (and `/v2/oauth/chooselocation`, the path
  docs/oauth/Authorization.md gives on marketplace.gohighlevel.com) with response_type=code,
  redirect_uri, client_id, scope; redirects to `redirect_uri?code=...` (same page). `state` is
  passed back (UNKNOWN whether HighLevel does). `location_id` is a stand-in extension picking
  the location; `auto_consent` skips the page.
- Token: `POST /oauth/token`, form-encoded `GetAccessCodebodyDto` (client_id, client_secret,
  grant_type authorization_code|refresh_token, code, refresh_token, user_type Company|Location,
  redirect_uri); answer `GetAccessCodeSuccessfulResponseDto` (apps/oauth.json).
- Refresh tokens rotate: "If they are used, the new refresh token is valid for a year"
  (docs/oauth/Authorization.md), so a used one is spent.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from highlevel_emulator import installs
from highlevel_emulator.state import Grant, HighLevelEmulator, Location

router = APIRouter()


def emulator(request: Request) -> HighLevelEmulator:
    emu = request.app.state.emulator
    assert isinstance(emu, HighLevelEmulator)
    return emu


def _page_error(message: str) -> HTMLResponse:
    return HTMLResponse(f"<h1>Error</h1><p>{html.escape(message)}</p>", status_code=400)


def _check_request(emu: HighLevelEmulator, params: dict[str, str]) -> str | None:
    if params.get("client_id") != emu.config.client_id:
        return "unknown client_id"
    if params.get("response_type", "code") != "code":
        return "response_type must be code"
    redirect = params.get("redirect_uri")
    if not redirect:
        return "redirect_uri is required"
    allowed = emu.config.redirect_uris
    if allowed is not None and redirect not in allowed:
        return "redirect_uri is not registered for this app"
    return None


def _pick(emu: HighLevelEmulator, wanted: str | None) -> Location:
    if wanted:
        found = emu.location(wanted)
        if found is not None:
            return found
    free = [loc for loc in emu.store.locations.values() if not loc.installed]
    if not wanted and (free or emu.store.locations):
        return (free or list(emu.store.locations.values()))[0]
    location = Location(
        wanted or emu.short_id(),
        emu.short_id(),
        "Emulated sub-account",
        emu.config.live_mode,
        "USD",
    )
    emu.add_location(location)
    return location


def _consent(emu: HighLevelEmulator, params: dict[str, str], location_id: str | None) -> Response:
    location = _pick(emu, location_id)
    installs.install(emu, location, None)
    code = installs.issue_code(emu, location, params.get("scope", ""))
    query = {"code": code}
    if params.get("state"):
        query["state"] = params["state"]
    sep = "&" if "?" in params["redirect_uri"] else "?"
    return RedirectResponse(params["redirect_uri"] + sep + urlencode(query), status_code=302)


@router.get("/oauth/chooselocation", include_in_schema=False)
@router.get("/v2/oauth/chooselocation", include_in_schema=False)
async def choose_location(request: Request) -> Response:
    emu = emulator(request)
    params = dict(request.query_params)
    problem = _check_request(emu, params)
    if problem:
        return _page_error(problem)
    if emu.config.auto_consent:
        return _consent(emu, params, params.get("location_id"))
    options = (
        "".join(
            f'<option value="{html.escape(loc.location_id)}">{html.escape(loc.name)}</option>'
            for loc in emu.store.locations.values()
        )
        or '<option value="">(a new sub-account)</option>'
    )
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k != "location_id"
    )
    page = (
        "<h1>Choose a sub-account</h1>"
        f'<form method="post" action="/oauth/chooselocation">{hidden}'
        f'<select name="location_id">{options}</select>'
        '<button type="submit">Allow</button></form>'
    )
    return HTMLResponse(page)


@router.post("/oauth/chooselocation", include_in_schema=False)
async def choose_location_submit(request: Request) -> Response:
    emu = emulator(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    problem = _check_request(emu, form)
    if problem:
        return _page_error(problem)
    return _consent(emu, form, form.get("location_id") or None)


def _oauth_error(status: int, error: str, message: str) -> JSONResponse:
    # UNKNOWN (README): HighLevel's exact OAuth error body; common DTO shape plus `error`.
    return JSONResponse({"statusCode": status, "message": message, "error": error}, status)


def _answer(emu: HighLevelEmulator, grant: Grant, user_type: str) -> dict[str, Any]:
    access, refresh = emu.token(), emu.token()
    ttl = emu.config.access_token_ttl_s
    emu.store.access_tokens[access] = Grant(
        grant.location_id, grant.company_id, grant.user_id, grant.scope, emu.now() + ttl
    )
    emu.store.refresh_tokens[refresh] = Grant(
        grant.location_id,
        grant.company_id,
        grant.user_id,
        grant.scope,
        emu.now() + emu.config.refresh_token_ttl_s,
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
        "scope": grant.scope,
        "userType": user_type,
        "companyId": grant.company_id,
        "userId": grant.user_id,
        "isBulkInstallation": False,
    }
    if user_type == "Location":
        # "Location ID - Present only for Sub-Account Access Token" (apps/oauth.json).
        body["locationId"] = grant.location_id
    return body


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    emu = emulator(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if (form.get("client_id"), form.get("client_secret")) != (
        emu.config.client_id,
        emu.config.client_secret,
    ):
        return _oauth_error(401, "invalid_client", "Invalid client credentials")
    user_type = form.get("user_type", "Location")
    if user_type not in ("Location", "Company"):
        return _oauth_error(422, "invalid_request", "user_type must be Company or Location")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = emu.store.codes.pop(form.get("code", ""), None)
    elif grant_type == "refresh_token":
        table = emu.store.refresh_tokens
        key = form.get("refresh_token", "")
        grant = table.pop(key, None) if emu.config.refresh_rotation else table.get(key)
    else:
        return _oauth_error(422, "unsupported_grant_type", "grant_type is not supported")
    if grant is None or grant.expires_at <= emu.now():
        return _oauth_error(401, "invalid_grant", "Invalid grant: the code or token is invalid")
    location = emu.location(grant.location_id)
    if location is None or not location.installed:
        return _oauth_error(401, "invalid_grant", "The app is not installed on this location")
    body = _answer(emu, grant, user_type)
    if grant_type == "refresh_token" and not emu.config.refresh_rotation:
        # Without rotation the same refresh token stays the one to use.
        emu.store.refresh_tokens.pop(body["refresh_token"])
        body["refresh_token"] = form["refresh_token"]
    return JSONResponse(body)
