"""The OAuth connect flow (C1): connect link → Intuit consent → callback → active connection.

Every failure ends in a redirect to the CRM's return_url with `status=error&reason=...` (or a
plain page when the state is unusable), never in a half-made connection.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import QboEnvironment, Settings
from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import SessionFactory, session_scope
from app.errors import AppError, PermanentError, TransientError
from app.integrations.quickbooks.auth import IntuitOAuth, TokenSet, new_code_verifier
from app.logging import get_logger
from app.models import Connection, OAuthState
from app.models.states import ImportState
from app.repositories import connections, oauth_states
from app.security.tokens import StateSigner, TokenCipher
from app.services.tokens import store_tokens
from app.sync.connections import release as company_release
from app.sync.connections import status as connection_status
from app.sync.mapping.company import CompanyFacts

log = get_logger(__name__)

STATE_TTL = timedelta(minutes=10)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Location ids end up in URLs, file names, job lock keys ("crm:<location>:...") and log lines:
# only characters that mean nothing in any of them. Checked when a location is registered.
LOCATION_ID_RULE = re.compile(r"[A-Za-z0-9_-]{1,200}")
LOCATION_ID_HELP = (
    "location_id must be 1 to 200 characters, each an ASCII letter, a digit, '_' or '-' "
    "(no '/', '.', ':' or spaces)"
)

# Reads CompanyInfo and Preferences with a just-issued access token (C3).
FactsReader = Callable[[str, str], Awaitable[CompanyFacts]]
# Called once the connection is active: queue imports, resume paused work.
AfterConnect = Callable[[AsyncSession, Connection, bool], Awaitable[None]]


class ConnectRequestError(AppError):
    """The CRM's connect request cannot be honoured as asked."""

    http_status = 422
    public_code = "invalid_connect_request"


class LocationIdError(ConnectRequestError):
    """A location id outside LOCATION_ID_RULE, for a location not registered yet."""

    def __init__(self) -> None:
        super().__init__(LOCATION_ID_HELP)


def valid_location_id(location_id: str) -> bool:
    return LOCATION_ID_RULE.fullmatch(location_id) is not None


@dataclass(frozen=True, slots=True)
class ConnectLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where the browser goes next; `page` is a plain explanation when there is nowhere to go."""

    url: str | None = None
    page: str | None = None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_return_url(settings: Settings, return_url: str) -> None:
    parts = urlsplit(return_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConnectRequestError("return_url must be an absolute http(s) URL")
    allowed = {_origin(origin) for origin in settings.crm.return_url_origins}
    if _origin(return_url) in allowed | {_origin(settings.public_base_url)}:  # + our own card
        return
    # Development without configuration: loopback origins are the only safe default.
    dev = settings.qbo.environment is not QboEnvironment.PRODUCTION and not allowed
    if dev and parts.hostname in _LOOPBACK:
        return
    raise ConnectRequestError(
        f"return_url origin {_origin(return_url)} is not in CRM_RETURN_URL_ORIGINS"
    )


def with_outcome(return_url: str, **params: str) -> str:
    parts = urlsplit(return_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class ConnectFlow:
    def __init__(
        self,
        *,
        settings: Settings,
        factory: SessionFactory,
        signer: StateSigner,
        cipher: TokenCipher,
        oauth: IntuitOAuth,
        read_facts: FactsReader,
        after_connect: AfterConnect,
    ) -> None:
        self._settings = settings
        self._factory = factory
        self._signer = signer
        self._cipher = cipher
        self._oauth = oauth
        self._read_facts = read_facts
        self._after_connect = after_connect

    async def start(
        self, *, location_id: str, import_invoices: bool, review_automation: bool, return_url: str
    ) -> ConnectLink:
        check_return_url(self._settings, return_url)
        expires_at = datetime.now(UTC) + STATE_TTL
        async with session_scope(self._factory) as session:
            # A location registered before the rule existed can still reconnect.
            if (
                not valid_location_id(location_id)
                and await connections.get_by_location(session, location_id) is None
            ):
                raise LocationIdError
            await connections.register_location(
                session,
                location_id,
                import_invoices=import_invoices,
                review_automation=review_automation,
            )
            attempt = await oauth_states.create(
                session,
                location_id=location_id,
                import_invoices=import_invoices,
                review_automation=review_automation,
                return_url=return_url,
                expires_at=expires_at,
                code_verifier=new_code_verifier(),
            )
        base = self._settings.public_base_url.rstrip("/")
        url = f"{base}/v1/oauth/connect?{urlencode({'state': self._signer.sign(attempt.id)})}"
        return ConnectLink(url=url, expires_at=expires_at)

    async def _attempt(self, state: str | None) -> OAuthState | None:
        attempt_id = self._signer.verify(state or "")
        if attempt_id is None:
            return None
        async with session_scope(self._factory) as session:
            return await oauth_states.get(session, attempt_id)

    async def authorize(self, state: str | None) -> Redirect:
        attempt = await self._attempt(state)
        if attempt is None:
            return Redirect(page="This connect link is not valid. Start again from your CRM.")
        async with session_scope(self._factory) as session:
            claimed = await oauth_states.claim_start(session, attempt.id)
        if not claimed or not attempt.code_verifier:  # no verifier: made before PKCE, start again
            return self._fail(attempt, "link_used_or_expired")
        assert state is not None
        return Redirect(url=self._oauth.authorization_url(state, attempt.code_verifier))

    async def callback(
        self, *, state: str | None, code: str | None, realm_id: str | None, error: str | None
    ) -> Redirect:
        attempt = await self._attempt(state)
        if attempt is None:
            return Redirect(page="This connection attempt is not valid. Start again from your CRM.")
        async with session_scope(self._factory) as session:
            # Claimed in its own transaction first: a replayed callback can never exchange twice.
            verifier = await oauth_states.claim_completion(session, attempt.id)
        if not verifier:
            return self._fail(attempt, "link_used_or_expired")
        if error or not code or not realm_id:
            return await self._finish(attempt, error or "missing_code")
        try:
            # PKCE: a code issued to another attempt (another verifier's challenge) is refused.
            tokens = await self._oauth.exchange_code(code, verifier)
        except (PermanentError, TransientError) as exc:
            log.warning(
                "qbo.connect.exchange_failed", location_id=attempt.location_id, error=str(exc)
            )
            return await self._finish(attempt, "token_exchange_failed")
        return await self._connect(attempt, realm_id, tokens)

    async def _connect(self, attempt: OAuthState, realm_id: str, tokens: TokenSet) -> Redirect:
        try:
            facts = await self._read_facts(realm_id, tokens.access_token)
        except (PermanentError, TransientError) as exc:
            log.warning("qbo.connect.company_read_failed", realm_id=realm_id, error=str(exc))
            return await self._finish(attempt, "company_settings_unreadable")
        async with session_scope(self._factory) as session:
            await advisory_xact_lock(session, LockNamespace.CONNECT, realm_id)
            owner = await connections.get_by_realm(session, realm_id)
            if owner is not None and owner.location_id != attempt.location_id:
                await oauth_states.record_outcome(session, attempt.id, "realm_in_use")
                return self._fail(attempt, "realm_in_use")
            connection = await connections.get_by_location_for_update(session, attempt.location_id)
            assert connection is not None
            if connection.realm_id is not None and connection.realm_id != realm_id:
                # Links and history belong to the first company; mixing two would corrupt both.
                await oauth_states.record_outcome(session, attempt.id, "different_company")
                return self._fail(attempt, "different_company")
            if connection.realm_id is None:
                await company_release.restore_links(session, connection, realm_id)
            first_time = connection.connected_at is None
            self._apply(connection, attempt, realm_id, tokens, facts, first_time)
            await connection_status.activate(session, connection)
            await oauth_states.record_outcome(session, attempt.id, "connected")
            await self._after_connect(session, connection, first_time)
        log.info("qbo.connect.connected", location_id=attempt.location_id, realm_id=realm_id)
        return Redirect(url=with_outcome(attempt.return_url, status="connected"))

    def _apply(
        self,
        connection: Connection,
        attempt: OAuthState,
        realm_id: str,
        tokens: TokenSet,
        facts: CompanyFacts,
        first_time: bool,
    ) -> None:
        store_tokens(connection, tokens, self._cipher)
        connection.realm_id = realm_id
        connection.review_automation = attempt.review_automation
        connection.company_name = facts.name
        connection.country = facts.country
        connection.home_currency = facts.home_currency
        connection.multicurrency = facts.multicurrency
        connection.sales_tax_mode = facts.sales_tax_mode
        connection.custom_txn_numbers = facts.custom_txn_numbers
        if first_time:
            # "Import invoices" only applies at connect; a reconnect keeps history and links.
            connection.import_invoices = attempt.import_invoices
            connection.connected_at = datetime.now(UTC)
            connection.set_import_state(ImportState.QUEUED)

    async def _finish(self, attempt: OAuthState, reason: str) -> Redirect:
        async with session_scope(self._factory) as session:
            await oauth_states.record_outcome(session, attempt.id, reason)
        return self._fail(attempt, reason)

    def _fail(self, attempt: OAuthState, reason: str) -> Redirect:
        log.info("qbo.connect.failed", location_id=attempt.location_id, reason=reason)
        return Redirect(url=with_outcome(attempt.return_url, status="error", reason=reason))
