"""The long-lived parts every process shares, as one value: what flows and tasks are given.

Built by app/wiring.py; this module only declares them, so that every layer above (sync flows,
jobs, routes) can name them without importing the code that builds them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.crm.callbacks import CallbackSender
from app.integrations.http import AsyncClient
from app.integrations.quickbooks.auth import IntuitOAuth
from app.integrations.quickbooks.client import QboClient, base_url_for
from app.models import CrmEvent, QboChange
from app.models.states import InboundState
from app.security.tokens import StateSigner, TokenCipher
from app.services.highlevel import HighLevelApi
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
    # HighLevel's API, tokens and OAuth (app/services/highlevel.py).
    highlevel: HighLevelApi
    callbacks: CallbackSender | None = None
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


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an inbound record (a CRM event or a QBO change), as its row records it."""

    state: InboundState
    reason: str | None = None


class CrmEventHandler(Protocol):
    """Runs a stored CRM event's flow. On the final attempt (no retry follows) a failure must
    become the event's outcome instead of raising."""

    def __call__(
        self, session: AsyncSession, services: Services, row: CrmEvent, /, *, final_attempt: bool
    ) -> Awaitable[Outcome]: ...


class QboChangeHandler(Protocol):
    """Applies a stored QBO change of an entity that has a flow (and its pending siblings)."""

    def __call__(
        self, session: AsyncSession, services: Services, row: QboChange, /
    ) -> Awaitable[Outcome]: ...


class InitialImporter(Protocol):
    """Imports a newly connected company's customers (and invoices) into the CRM."""

    def __call__(self, runtime: Runtime, connection_id: str, /) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class Handlers:
    """The flows the job runner hands its work to: values, built from app/sync by
    app/wiring.py `build_handlers` (this layer must not import app/sync); tests build their own.
    Which event type or entity goes to which flow is the handlers' business: they read the
    tables beside the schemas (app/integrations/crm/event_table.py,
    app/integrations/quickbooks/change_entities.py)."""

    crm_event: CrmEventHandler
    qbo_change: QboChangeHandler
    initial_import: InitialImporter


@dataclass(frozen=True)
class Runtime:
    """What a job needs at run time (handed to procrastinate as the worker's additional context)."""

    settings: Settings
    session_factory: SessionFactory
    services: Services
    handlers: Handlers
