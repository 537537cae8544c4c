"""HighLevel Marketplace OAuth 2.0 (authorization code grant, sub-account tokens).

Sources (GoHighLevel/highlevel-api-docs):
- docs/oauth/Authorization.md: the authorization page is
  `https://marketplace.gohighlevel.com/v2/oauth/chooselocation?response_type=code&redirect_uri=...
  &client_id=...&scope=<space separated>`; the browser comes back to the redirect URI with `code`.
- apps/oauth.json, `POST /oauth/token` on `https://services.leadconnectorhq.com`, form-encoded
  (`GetAccessCodebodyDto`): client_id, client_secret, grant_type (authorization_code |
  refresh_token), code, refresh_token, user_type (Company | Location), redirect_uri. The answer
  (`GetAccessCodeSuccessfulResponseDto`): access_token, token_type, expires_in (86399 in the
  example), refresh_token, scope, userType, locationId, companyId, userId.
- docs/oauth/Faqs.md: access tokens last a day; a refresh token lasts a year and is replaced by
  each refresh (the new one must be stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from app.errors import PermanentError, TransientError

AUTHORIZE_PATH = "/v2/oauth/chooselocation"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret

# What the service uses (docs/oauth/Scopes.md), nothing more: contacts (read, upsert, tags),
# invoices, orders and transactions read (webhook follow-ups and the backstop poller), and the
# location's name. No invoices.write: no invoice is written to HighLevel (writes.py says why).
SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "invoices.readonly",
    "payments/orders.readonly",
    "payments/transactions.readonly",
    "locations.readonly",
)


@dataclass(frozen=True, slots=True)
class HighLevelTokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str | None
    location_id: str | None
    company_id: str | None

    def __repr__(self) -> str:
        return f"HighLevelTokenSet(location_id={self.location_id!r}, expires_at={self.expires_at})"


class HighLevelGrantError(PermanentError):
    """HighLevel refused the code or refresh token: the location must install the app again."""

    http_status = 400
    public_code = "highlevel_grant_refused"

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HighLevel refused the token request ({status}): {body[:300]}")
        self.status = status


class HighLevelOAuthUnavailableError(TransientError):
    """HighLevel's token endpoint failed or could not be reached."""


class HighLevelOAuth:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        api_base_url: str,
        oauth_base_url: str,
        redirect_uri: str,
    ) -> None:
        self._client = client
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_base = api_base_url.rstrip("/")
        self._oauth_base = oauth_base_url.rstrip("/")
        self.redirect_uri = redirect_uri

    def authorization_url(self, state: str | None = None) -> str:
        params = {
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "client_id": self._client_id,
            "scope": " ".join(SCOPES),
        }
        if state is not None:
            params["state"] = state
        return f"{self._oauth_base}{AUTHORIZE_PATH}?{urlencode(params)}"

    async def exchange_code(self, code: str) -> HighLevelTokenSet:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        )

    async def refresh(self, refresh_token: str) -> HighLevelTokenSet:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _token(self, form: dict[str, str]) -> HighLevelTokenSet:
        data = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "user_type": "Location",
            **form,
        }
        try:
            response = await self._client.post(
                self._api_base + TOKEN_PATH,
                data=data,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise HighLevelOAuthUnavailableError(f"HighLevel's token endpoint: {exc}") from None
        if response.status_code in (400, 401, 403, 422):
            raise HighLevelGrantError(response.status_code, response.text)
        if response.status_code >= 300:
            raise HighLevelOAuthUnavailableError(
                f"HighLevel's token endpoint answered {response.status_code}"
            )
        return token_set(response.json())


def token_set(body: dict[str, Any], now: datetime | None = None) -> HighLevelTokenSet:
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str):
        raise HighLevelOAuthUnavailableError(
            "HighLevel's token answer has no access or refresh token"
        )
    expires_in = float(body.get("expires_in") or 86_399)
    return HighLevelTokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=(now or datetime.now(UTC)) + timedelta(seconds=expires_in),
        scope=body.get("scope"),
        location_id=body.get("locationId"),
        company_id=body.get("companyId"),
    )
