"""The HighLevel parts every process shares: the API client, tokens per location, OAuth, writes."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import HighLevelSettings, Settings
from app.db.session import SessionFactory
from app.integrations.highlevel.http import HighLevelHttp, RateLimiter
from app.integrations.highlevel.oauth import HighLevelOAuth
from app.integrations.highlevel.writes import HighLevelWrites
from app.integrations.http import AsyncClient
from app.security.tokens import TokenCipher
from app.services.highlevel_tokens import HighLevelTokens

REDIRECT_PATH = "/v1/highlevel/oauth/callback"


@dataclass
class HighLevelApi:
    settings: HighLevelSettings
    http: HighLevelHttp
    tokens: HighLevelTokens
    # None until HIGHLEVEL_CLIENT_ID is set: no install flow, no refresh.
    oauth: HighLevelOAuth | None
    writes: HighLevelWrites


def redirect_uri(settings: Settings) -> str:
    return settings.highlevel.redirect_uri or settings.public_base_url.rstrip("/") + REDIRECT_PATH


def build_highlevel(
    settings: Settings, factory: SessionFactory, client: AsyncClient, cipher: TokenCipher
) -> HighLevelApi:
    group = settings.highlevel
    oauth = None
    if group.client_id:
        secret = group.client_secret
        oauth = HighLevelOAuth(
            client,
            client_id=group.client_id,
            client_secret=secret.get_secret_value() if secret else "",
            api_base_url=group.api_base_url,
            oauth_base_url=group.oauth_base_url,
            redirect_uri=redirect_uri(settings),
        )
    limiter = RateLimiter(
        burst=group.burst_requests, interval_s=group.burst_interval_s, daily=group.daily_requests
    )
    http = HighLevelHttp(client, group.api_base_url, limiter, timeout_s=group.request_timeout_s)
    return HighLevelApi(
        settings=group,
        http=http,
        tokens=HighLevelTokens(factory, cipher, oauth),
        oauth=oauth,
        writes=HighLevelWrites(http),
    )
