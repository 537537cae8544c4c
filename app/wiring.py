"""Build the long-lived parts every process shares: HTTP clients, token service, QBO client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.crm.callbacks import CallbackClient, callback_client_from_settings
from app.integrations.http import AsyncClient, build_http_client
from app.integrations.quickbooks.auth import IntuitOAuth, endpoints_for
from app.integrations.quickbooks.client import QboClient, base_url_for
from app.models import Connection
from app.security.tokens import StateSigner, TokenCipher
from app.services.qbo_limiter import PostgresRealmLimiter
from app.services.tokens import TokenService
from app.sync.connections import resume
from app.sync.connections.connect import ConnectFlow
from app.sync.crm_to_qbo.document_lines import TaxCodeCache
from app.sync.mapping.company import CompanyFacts, company_facts


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
    connect: ConnectFlow = field(init=False)

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

    async def read_facts(self, realm_id: str, access_token: str) -> CompanyFacts:
        realm = self.qbo_with_token(access_token).realm(realm_id)
        info = await realm.company_info()
        preferences = await realm.preferences()
        return company_facts(
            info.model_dump(by_alias=True, exclude_none=True),
            preferences.model_dump(by_alias=True, exclude_none=True),
        )


def qbo_base_url(settings: Settings) -> str:
    return base_url_for(settings.qbo.environment.value, settings.qbo.api_base_url)


def _oauth(settings: Settings) -> IntuitOAuth:
    secret = settings.qbo.client_secret
    return IntuitOAuth(
        client_id=settings.qbo.client_id or "",
        client_secret=secret.get_secret_value() if secret else "",
        redirect_uri=settings.qbo.redirect_uri or "",
        endpoints=endpoints_for(settings.qbo.oauth_base_url),
    )


@asynccontextmanager
async def build_services(
    settings: Settings, factory: SessionFactory, job_app: App
) -> AsyncIterator[Services]:
    keys = [key.get_secret_value() for key in settings.token_encryption_keys]
    cipher = TokenCipher(keys)
    oauth = _oauth(settings)
    limiter = PostgresRealmLimiter(factory)
    tokens = TokenService(factory, cipher, oauth)
    async with build_http_client() as http:
        services = Services(
            settings=settings,
            cipher=cipher,
            signer=StateSigner(keys),
            oauth=oauth,
            http=http,
            limiter=limiter,
            tokens=tokens,
            qbo=QboClient(http, base_url=qbo_base_url(settings), tokens=tokens, limiter=limiter),
            callbacks=callback_client_from_settings(http, settings),
        )

        async def after_connect(
            session: AsyncSession, connection: Connection, first_time: bool
        ) -> None:
            await resume.after_connect(session, job_app, connection, first_time)

        services.connect = ConnectFlow(
            settings=settings,
            factory=factory,
            signer=services.signer,
            cipher=cipher,
            oauth=oauth,
            read_facts=services.read_facts,
            after_connect=after_connect,
        )
        try:
            yield services
        finally:
            await oauth.aclose()
