"""Intuit OAuth 2.0 through authlib: authorize URL, code exchange, refresh, revoke.

The only module that imports authlib, and only its transport-free OAuth 2 parts: the
authorization URL and PKCE challenge (RFC 6749 §4.1.1, RFC 7636), the token and revocation
request bodies (RFC 6749 §4.1.3/§6, RFC 7009) and client authentication (HTTP Basic, qbo-api.md
§1.4), and the token model (`expires_at` from `expires_in`). The requests go through our own
httpx client: authlib 1.8 moved its httpx integration to the `httpx2` fork, and the plain-httpx
one left behind is deprecated (a warning at import) and not intercepted by respx.

Errors come out typed: a grant Intuit refuses for good (reused code, superseded or revoked
refresh token) is `OAuthGrantError`; an outage is transient.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.errors import PermanentError, TransientError

SCOPE = "com.intuit.quickbooks.accounting"
INTUIT_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105
INTUIT_REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"


@dataclass(frozen=True, slots=True)
class OAuthEndpoints:
    authorize: str
    token: str
    revoke: str


def endpoints_for(override_base_url: str | None) -> OAuthEndpoints:
    """Intuit's endpoints, or the same paths under an override (the emulator)."""
    if not override_base_url:
        return OAuthEndpoints(INTUIT_AUTHORIZE_URL, INTUIT_TOKEN_URL, INTUIT_REVOKE_URL)
    base = override_base_url.rstrip("/")
    return OAuthEndpoints(
        f"{base}/connect/oauth2",
        f"{base}/oauth2/v1/tokens/bearer",
        f"{base}/v2/oauth2/tokens/revoke",
    )


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, tokens=[redacted])"


def new_code_verifier() -> str:
    """An RFC 7636 code_verifier: 64 characters of the unreserved set, 384 bits of entropy."""
    return secrets.token_urlsafe(48)


class OAuthGrantError(PermanentError):
    """Intuit refused the grant for good: the user has to connect again."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error


class OAuthClientError(PermanentError):
    """Our client id/secret or redirect URI is wrong: an operator has to fix the settings."""


class OAuthUnavailableError(TransientError):
    """Intuit's OAuth service failed or did not answer; worth retrying."""


def _token_set(token: dict[str, Any], previous_refresh: str | None = None) -> TokenSet:
    now = time.time()
    expires_at = float(token.get("expires_at") or now + float(token.get("expires_in", 3600)))
    refresh_in = token.get("x_refresh_token_expires_in")
    refresh_token = token.get("refresh_token") or previous_refresh
    if not token.get("access_token") or not refresh_token:
        raise OAuthUnavailableError("Intuit's token answer has no access or refresh token")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(refresh_token),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        refresh_expires_at=(
            datetime.now(UTC) + timedelta(seconds=float(refresh_in)) if refresh_in else None
        ),
    )


_TOKEN_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}
_CLIENT_ERRORS = {"invalid_client", "unauthorized_client", "redirect_uri_mismatch"}


def _refusal(error: str, description: str | None) -> Exception:
    """An RFC 6749 §5.2 error answer as our typed error."""
    if error in _CLIENT_ERRORS:
        return OAuthClientError(f"Intuit rejected our OAuth client: {error}")
    return OAuthGrantError(error, description)


def _translate(exc: httpx.HTTPError) -> Exception:
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
        return OAuthClientError(f"Intuit's token endpoint answered {exc.response.status_code}")
    return OAuthUnavailableError(f"Intuit's OAuth service is unavailable: {type(exc).__name__}")


def _token_answer(response: httpx.Response) -> dict[str, Any]:
    """The token endpoint's JSON object; its error answer, or an unusable one, raised typed."""
    if response.status_code >= 500:
        raise OAuthUnavailableError(f"Intuit's token endpoint answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # A gateway's page, say: no OAuth answer at all.
        if response.status_code >= 400:
            raise OAuthClientError(f"Intuit's token endpoint answered {response.status_code}")
        raise OAuthUnavailableError("Intuit's token endpoint answered no JSON object")
    if "error" in answer:
        description = answer.get("error_description")
        raise _refusal(str(answer["error"]), str(description) if description else None)
    # The token model adds `expires_at` (now + `expires_in`) as authlib's clients did.
    return dict(OAuth2Token.from_dict(answer))


class IntuitOAuth:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        endpoints: OAuthEndpoints,
        timeout_s: float = 20.0,
    ) -> None:
        self.endpoints = endpoints
        self._client_id = client_id
        self._redirect_uri = redirect_uri
        # Intuit's token endpoint takes the client as HTTP Basic (qbo-api.md §1.4).
        self._auth = ClientAuth(client_id, client_secret, "client_secret_basic")
        self._http = httpx.AsyncClient(timeout=timeout_s)

    def authorization_url(self, state: str, code_verifier: str) -> str:
        """Intuit's consent URL carrying `code_challenge` = BASE64URL(SHA256(code_verifier))."""
        url: str = prepare_grant_uri(
            self.endpoints.authorize,
            self._client_id,
            "code",
            redirect_uri=self._redirect_uri,
            scope=SCOPE,
            state=state,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade the code for tokens, proving with the verifier that we started this attempt."""
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self._redirect_uri,
            code_verifier=code_verifier,
        )
        return _token_set(await self._token_request(body))

    async def refresh(self, refresh_token: str) -> TokenSet:
        body = prepare_token_request("refresh_token", refresh_token=refresh_token, scope=SCOPE)
        token = await self._token_request(body)
        return _token_set(token, previous_refresh=refresh_token)

    async def revoke(self, token: str) -> None:
        body, headers = prepare_revoke_token_request(token, None, "", {})
        try:
            response = await self._post(self.endpoints.revoke, body, headers)
        except httpx.HTTPError as exc:
            raise _translate(exc) from None
        # Revoking a token Intuit already forgot is what we wanted anyway.
        if response.status_code >= 500:
            raise OAuthUnavailableError(f"Intuit's revoke endpoint answered {response.status_code}")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _token_request(self, body: str) -> dict[str, Any]:
        try:
            response = await self._post(self.endpoints.token, body, dict(_TOKEN_HEADERS))
        except httpx.HTTPError as exc:
            raise _translate(exc) from None
        return _token_answer(response)

    async def _post(self, url: str, body: str, headers: dict[str, str]) -> httpx.Response:
        url, headers, body = self._auth.prepare("POST", url, headers, body)
        return await self._http.post(url, content=body.encode("utf-8"), headers=headers)
