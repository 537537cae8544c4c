"""Intuit OAuth 2.0 through authlib: authorize URL, code exchange, refresh, revoke.

The only module that imports authlib. Errors come out typed: a grant Intuit refuses for good
(reused code, superseded or revoked refresh token) is `OAuthGrantError`; an outage is transient.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

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


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, OAuthError):
        if exc.error in {"invalid_client", "unauthorized_client", "redirect_uri_mismatch"}:
            return OAuthClientError(f"Intuit rejected our OAuth client: {exc.error}")
        return OAuthGrantError(str(exc.error), exc.description)
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
        return OAuthClientError(f"Intuit's token endpoint answered {exc.response.status_code}")
    return OAuthUnavailableError(f"Intuit's OAuth service is unavailable: {type(exc).__name__}")


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
        self._client = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
            redirect_uri=redirect_uri,
            scope=SCOPE,
            timeout=timeout_s,
            code_challenge_method="S256",
        )

    def authorization_url(self, state: str, code_verifier: str) -> str:
        """Intuit's consent URL carrying `code_challenge` = BASE64URL(SHA256(code_verifier))."""
        url, _ = self._client.create_authorization_url(
            self.endpoints.authorize, state=state, code_verifier=code_verifier
        )
        return str(url)

    async def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade the code for tokens, proving with the verifier that we started this attempt."""
        try:
            token = await self._client.fetch_token(
                self.endpoints.token,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except (OAuthError, httpx.HTTPError) as exc:
            raise _translate(exc) from None
        return _token_set(dict(token))

    async def refresh(self, refresh_token: str) -> TokenSet:
        try:
            token = await self._client.refresh_token(
                self.endpoints.token, refresh_token=refresh_token
            )
        except (OAuthError, httpx.HTTPError) as exc:
            raise _translate(exc) from None
        return _token_set(dict(token), previous_refresh=refresh_token)

    async def revoke(self, token: str) -> None:
        try:
            response = await self._client.revoke_token(self.endpoints.revoke, token=token)
        except httpx.HTTPError as exc:
            raise _translate(exc) from None
        # Revoking a token Intuit already forgot is what we wanted anyway.
        if response.status_code >= 500:
            raise OAuthUnavailableError(f"Intuit's revoke endpoint answered {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
