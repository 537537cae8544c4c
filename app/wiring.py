"""Build what every process shares (declared in app/services/container.py): the services, the
handlers the job runner hands its work to, and the connect flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.crm.callbacks import callback_client_from_settings
from app.integrations.http import build_http_client
from app.integrations.quickbooks.auth import IntuitOAuth, endpoints_for
from app.integrations.quickbooks.client import QboClient
from app.models import Connection
from app.security.tokens import StateSigner, TokenCipher
from app.services.container import Handlers, Services, qbo_base_url
from app.services.highlevel import build_highlevel
from app.services.qbo_limiter import PostgresRealmLimiter
from app.services.tokens import TokenService
from app.sync.connections import resume
from app.sync.connections import status as connection_status
from app.sync.connections.connect import ConnectFlow
from app.sync.crm_to_qbo.handlers import handle_crm_event
from app.sync.doctor import run as doctor
from app.sync.highlevel.outbound import callback_router
from app.sync.mapping.company import CompanyFacts, company_facts
from app.sync.qbo_to_crm.changes import handle_change
from app.sync.qbo_to_crm.imports import run_initial_import


def _oauth(settings: Settings) -> IntuitOAuth:
    secret = settings.qbo.client_secret
    return IntuitOAuth(
        client_id=settings.qbo.client_id or "",
        client_secret=secret.get_secret_value() if secret else "",
        redirect_uri=settings.qbo.redirect_uri or "",
        endpoints=endpoints_for(settings.qbo.oauth_base_url),
    )


def build_handlers() -> Handlers:
    """The flows of app/sync, as the values the job runner is given (tests may build others)."""
    return Handlers(
        crm_event=handle_crm_event,
        qbo_change=handle_change,
        initial_import=run_initial_import,
    )


@asynccontextmanager
async def build_services(settings: Settings, factory: SessionFactory) -> AsyncIterator[Services]:
    keys = [key.get_secret_value() for key in settings.token_encryption_keys]
    cipher = TokenCipher(keys)
    oauth = _oauth(settings)
    limiter = PostgresRealmLimiter(
        factory,
        per_second=settings.qbo.requests_per_second,
        per_minute=settings.qbo.requests_per_minute,
        max_in_flight=settings.qbo.max_in_flight,
    )
    tokens = TokenService(factory, cipher, oauth, on_refused=connection_status.needs_reconnect)
    async with build_http_client() as http:
        highlevel = build_highlevel(settings, factory, http, cipher)
        services = Services(
            settings=settings,
            cipher=cipher,
            signer=StateSigner(keys),
            oauth=oauth,
            http=http,
            limiter=limiter,
            tokens=tokens,
            qbo=QboClient(http, base_url=qbo_base_url(settings), tokens=tokens, limiter=limiter),
            highlevel=highlevel,
            # Per location: HighLevel's API for installed HighLevel locations, else the CRM URL.
            callbacks=callback_router(
                factory, callback_client_from_settings(http, settings), highlevel
            ),
        )
        try:
            yield services
        finally:
            await oauth.aclose()


def build_connect_flow(
    settings: Settings, factory: SessionFactory, services: Services, job_app: App
) -> ConnectFlow:
    """The OAuth connect flow: reads the company with the fresh token, then resumes its work."""

    async def read_facts(realm_id: str, access_token: str) -> CompanyFacts:
        realm = services.qbo_with_token(access_token).realm(realm_id)
        info = await realm.company_info()
        preferences = await realm.preferences()
        return company_facts(
            info.model_dump(by_alias=True, exclude_none=True),
            preferences.model_dump(by_alias=True, exclude_none=True),
        )

    async def after_connect(
        session: AsyncSession, connection: Connection, first_time: bool
    ) -> None:
        await resume.after_connect(session, job_app, connection, first_time)
        await doctor.defer_run(session, job_app, connection.location_id)

    return ConnectFlow(
        settings=settings,
        factory=factory,
        signer=services.signer,
        cipher=services.cipher,
        oauth=services.oauth,
        read_facts=read_facts,
        after_connect=after_connect,
    )
