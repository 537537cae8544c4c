"""The long-lived parts every process shares, as one value: what flows and tasks are given.

Built by app/wiring.py; this module only declares them, so that every layer above (sync flows,
jobs, routes) can name them without importing the code that builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.crm.callbacks import CallbackClient
from app.integrations.http import AsyncClient
from app.integrations.quickbooks.auth import IntuitOAuth
from app.integrations.quickbooks.client import QboClient, base_url_for
from app.security.tokens import StateSigner, TokenCipher
from app.services.qbo_limiter import PostgresRealmLimiter
from app.services.tax_codes import TaxCodeCache
from app.services.tokens import TokenService


@dataclass(frozen=True)
class StaticToken:
    """The token provider for the two reads made with a token not yet stored (connect flow)."""

    token: str

    async def access_token(
        self, realm_id: str, *, force_refresh: bool = False, refused: str | None = None
    ) -> str:
        return self.token


@dataclass
class Services:
    settings: Settings
    cipher: TokenCipher
    signer: StateSigner
    oauth: IntuitOAuth
    http: AsyncClient
    limiter: PostgresRealmLimiter
    tokens: TokenService
    qbo: QboClient
    callbacks: CallbackClient | None = None
    tax_codes: TaxCodeCache = field(default_factory=TaxCodeCache)

    @property
    def qbo_base_url(self) -> str:
        return qbo_base_url(self.settings)

    def qbo_with_token(self, access_token: str) -> QboClient:
        return QboClient(
            self.http,
            base_url=qbo_base_url(self.settings),
            tokens=StaticToken(access_token),
            limiter=self.limiter,
        )


def qbo_base_url(settings: Settings) -> str:
    return base_url_for(settings.qbo.environment.value, settings.qbo.api_base_url)


@dataclass(frozen=True)
class Runtime:
    """What a job needs at run time (handed to procrastinate as the worker's additional context)."""

    settings: Settings
    session_factory: SessionFactory
    services: Services
