"""Intuit OAuth 2.0: authorize (consent page), token exchange/refresh, revoke, discovery."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from qbo_emulator.accounting import emulator
from qbo_emulator.companies import create_company
from qbo_emulator.state import Emulator
from qbo_emulator.tokens import Grant

router = APIRouter()

KNOWN_SCOPES = frozenset(
    {
        "com.intuit.quickbooks.accounting",
        "com.intuit.quickbooks.payment",
        "openid",
        "profile",
        "email",
        "phone",
        "address",
    }
)
DISCOVERY_PATHS = (
    "/.well-known/openid_configuration",
    "/.well-known/openid_sandbox_configuration",
    "/.well-known/openid-configuration",
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 7636 §4.1/§4.2: verifier and challenge are 43-128 characters of the unreserved set.
PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
PKCE_METHODS = frozenset({"S256", "plain"})


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if urlsplit(uri).query else "?"
    return RedirectResponse(uri + separator + urlencode(params), status_code=302)


def _bad_request(message: str) -> HTMLResponse:
    page = f"<html><body><h1>Error</h1><p>{html.escape(message)}</p></body></html>"
    return HTMLResponse(page, status_code=400)


def _redirect_allowed(emu: Emulator, uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    allowed = emu.config.redirect_uris
    return allowed is None or uri in allowed


def _check_authorize(emu: Emulator, params: dict[str, str]) -> Response | None:
    if params.get("client_id") != emu.config.client_id:
        return _bad_request("invalid_client: unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if not _redirect_allowed(emu, redirect_uri):
        return _bad_request("invalid_request: redirect_uri is missing or not registered")
    state = {"state": params["state"]} if "state" in params else {}
    if params.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **state})
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        return _redirect(redirect_uri, {"error": "invalid_scope", **state})
    if _challenge(params) is False:
        return _redirect(redirect_uri, {"error": "invalid_request", **state})
    return None


def _challenge(params: dict[str, str]) -> tuple[str, str] | bool | None:
    """The PKCE challenge and method asked for, None without one, False when malformed."""
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method", "plain")  # RFC 7636 §4.3: plain by default
    if challenge is None:
        return None if "code_challenge_method" not in params else False
    if not PKCE_VALUE.fullmatch(challenge) or method not in PKCE_METHODS:
        return False
    return challenge, method


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    """RFC 7636 §4.6: S256 compares BASE64URL(SHA256(ASCII(verifier))) without padding."""
    if not PKCE_VALUE.fullmatch(verifier):
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return hmac.compare_digest(verifier, challenge)


def _connect(emu: Emulator, params: dict[str, str], realm_id: str) -> RedirectResponse:
    challenge = _challenge(params)
    code = emu.tokens.new_code(
        realm_id,
        params["client_id"],
        params["redirect_uri"],
        params["scope"],
        emu.clock.now(),
        challenge if isinstance(challenge, tuple) else None,
    )
    out = {"code": code, "state": params.get("state", ""), "realmId": realm_id}
    return _redirect(params["redirect_uri"], out)


@router.get("/connect/oauth2")
async def authorize(request: Request) -> Response:
    """Intuit's authorize endpoint: consent page, or an immediate redirect with auto-consent."""
    emu = emulator(request)
    params = dict(request.query_params)
    problem = _check_authorize(emu, params)
    if problem is not None:
        return problem
    if emu.config.auto_consent:
        realm = emu.latest_realm or create_company(emu, {"country": "US"}).realm_id
        return _connect(emu, params, realm)
    return HTMLResponse(_consent_page(emu, params))


def _consent_page(emu: Emulator, params: dict[str, str]) -> str:
    options = "".join(
        f'<option value="{html.escape(c.realm_id)}">{html.escape(c.name)} ({c.country})</option>'
        for c in reversed(list(emu.companies.values()))
    )
    options += '<option value="new">Create a new US company</option>'
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    return (
        "<!doctype html><html><head><title>Connect to QuickBooks (emulator)</title></head><body>"
        "<h1>QuickBooks Online emulator</h1><p>An app wants to connect to your company.</p>"
        f'<form method="post" action="/connect/oauth2/consent">{hidden}'
        f'<label>Company <select name="realm_id">{options}</select></label> '
        '<button type="submit" name="action" value="connect">Connect</button> '
        '<button type="submit" name="action" value="cancel">Cancel</button>'
        "</form></body></html>"
    )


@router.api_route("/connect/oauth2/consent", methods=["GET", "POST"])
async def consent(request: Request) -> Response:
    """The consent form's target: Connect issues a code, Cancel answers access_denied."""
    emu = emulator(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.form()).items()})
    problem = _check_authorize(emu, params)
    if problem is not None:
        return problem
    if params.get("action") != "connect":
        state = {"state": params["state"]} if "state" in params else {}
        return _redirect(params["redirect_uri"], {"error": "access_denied", **state})
    realm = params.get("realm_id", "new")
    if realm not in emu.companies:
        realm = create_company(emu, {"country": "US"}).realm_id
    return _connect(emu, params, realm)


def _oauth_error(error: str, status: int = 400, description: str | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def _client_ok(emu: Emulator, request: Request, form: dict[str, str]) -> bool:
    header = request.headers.get("authorization", "")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
    return client_id == emu.config.client_id and secret == emu.config.client_secret


def _issue(emu: Emulator, grant: Grant) -> JSONResponse:
    now = emu.clock.now()
    access = emu.tokens.new_access(grant, now + emu.config.access_token_ttl_s)
    body = {
        "token_type": "bearer",
        "access_token": access.token,
        "refresh_token": grant.refresh_token,
        "expires_in": emu.config.access_token_ttl_s,
        "x_refresh_token_expires_in": round(grant.refresh_expires_at - now),
    }
    return JSONResponse(body, headers=NO_STORE)


def _exchange(emu: Emulator, form: dict[str, str]) -> JSONResponse:
    now = emu.clock.now()
    code = emu.tokens.codes.get(form.get("code", ""))
    if code is None or code.used or code.expires_at < now:
        return _oauth_error("invalid_grant")
    code.used = True  # a code works once, even if the rest of the request is wrong
    if form.get("redirect_uri") != code.redirect_uri:
        return _oauth_error("invalid_grant", description="redirect_uri mismatch")
    if code.code_challenge is not None and not pkce_matches(
        code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
    ):
        return _oauth_error("invalid_grant", description="code_verifier does not match")
    expires = now + emu.config.refresh_token_ttl_s
    grant = emu.tokens.new_grant(code.realm_id, code.client_id, code.scope, expires)
    return _issue(emu, grant)


def _refresh(emu: Emulator, form: dict[str, str]) -> JSONResponse:
    now = emu.clock.now()
    value = form.get("refresh_token", "")
    grant = emu.tokens.by_refresh.get(value)
    if grant is None or grant.revoked or value != grant.refresh_token:
        return _oauth_error("invalid_grant", description="Token invalid")
    if grant.refresh_expires_at <= now:
        return _oauth_error("invalid_grant", description="Token expired")
    if emu.config.refresh_rotation:
        emu.tokens.rotate(grant)
    grant.refresh_expires_at = now + emu.config.refresh_token_ttl_s
    return _issue(emu, grant)


@router.post("/oauth2/v1/tokens/bearer")
async def token(request: Request) -> Response:
    """Token endpoint: authorization_code and refresh_token grants."""
    emu = emulator(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not _client_ok(emu, request, form):
        return _oauth_error("invalid_client", status=401)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return _exchange(emu, form)
    if grant_type == "refresh_token":
        return _refresh(emu, form)
    return _oauth_error("unsupported_grant_type")


@router.post("/v2/oauth2/tokens/revoke")
async def revoke(request: Request) -> Response:
    """Revoke a refresh or access token, which disconnects the app from the company."""
    emu = emulator(request)
    raw = await request.body()
    value = _revoke_target(raw)
    if not _client_ok(emu, request, {}):
        return _oauth_error("invalid_client", status=401)
    grant = emu.tokens.by_refresh.get(value)
    access = emu.tokens.access.get(value)
    grant = grant or (access.grant if access else None)
    if grant is None:
        return _oauth_error("invalid_request", description="Token not found")
    grant.revoked = True
    return Response(status_code=200)


def _revoke_target(raw: bytes) -> str:
    """Intuit documents a JSON body; OAuth libraries (authlib) send RFC 7009 form bodies."""
    try:
        data: Any = json.loads(raw) if raw else {}
    except ValueError:
        form = parse_qs(raw.decode("utf-8", errors="replace"))
        data = {key: values[0] for key, values in form.items()}
    return str(data.get("token", "")) if isinstance(data, dict) else ""


def _discovery(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": "https://oauth.platform.intuit.com/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": sorted(KNOWN_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


async def discovery(request: Request) -> dict[str, Any]:
    """OpenID discovery document pointing at this emulator (intuit-oauth reads it)."""
    return _discovery(request)


for _path in DISCOVERY_PATHS:
    router.add_api_route(_path, discovery, methods=["GET"], include_in_schema=False)
    router.add_api_route(_path + "/", discovery, methods=["GET"], include_in_schema=False)


@router.get("/op/v1/jwks")
async def jwks() -> dict[str, Any]:
    """No id_tokens are issued, so there are no signing keys."""
    return {"keys": []}
