"""Access tokens for QBO requests: refreshed before expiry or after a 401, once per realm.

A refresh holds a per-realm advisory lock and re-reads the connection after acquiring it, so ten
jobs needing a refresh at once cause one token request, and the rotated refresh token and the
new access token are written in one transaction: no refresh token is ever lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import SessionFactory, side_transaction
from app.errors import AppError
from app.integrations.quickbooks.auth import IntuitOAuth, OAuthGrantError, TokenSet
from app.logging import get_logger
from app.models import Connection
from app.models.states import ConnectionStatus
from app.repositories import connections
from app.security.tokens import TokenCipher

log = get_logger(__name__)

RefusedHandler = Callable[[AsyncSession, Connection, str], Awaitable[None]]

REFRESH_MARGIN = timedelta(minutes=5)
# A 401 on a token obtained this recently is another job racing the refresh, not a bad token.
JUST_REFRESHED = timedelta(seconds=60)


class ConnectionPausedError(AppError):
    """The realm's connection is not active: its work waits until it is reconnected."""

    def __init__(self, realm_id: str, status: str) -> None:
        super().__init__(f"QuickBooks company {realm_id} is {status}; waiting for a reconnect")
        self.realm_id = realm_id


def _now() -> datetime:
    return datetime.now(UTC)


def store_tokens(connection: Connection, tokens: TokenSet, cipher: TokenCipher) -> None:
    """Write both tokens at once; every write re-encrypts with the newest key."""
    connection.access_token_enc = cipher.encrypt(tokens.access_token)
    connection.refresh_token_enc = cipher.encrypt(tokens.refresh_token)
    connection.access_token_expires_at = tokens.expires_at
    connection.refresh_token_expires_at = tokens.refresh_expires_at
    connection.token_refreshed_at = _now()


class TokenService:
    def __init__(
        self,
        factory: SessionFactory,
        cipher: TokenCipher,
        oauth: IntuitOAuth,
        *,
        on_refused: RefusedHandler,
    ) -> None:
        self._factory = factory
        self._cipher = cipher
        self._oauth = oauth
        # Marks the connection "needs reconnect" and tells the CRM (a sync rule, given by wiring).
        self._on_refused = on_refused
        self._cache: dict[str, tuple[str, datetime]] = {}

    async def access_token(
        self, realm_id: str, *, force_refresh: bool = False, refused: str | None = None
    ) -> str:
        """The realm's access token, refreshed when due.

        force_refresh (after a 401) refreshes unless another caller already replaced the token:
        when `refused` (the token the 401 was for) is given, by comparing it with the stored one;
        otherwise by the stored token's age (JUST_REFRESHED).
        """
        if not force_refresh:
            cached = self._cache.get(realm_id)
            if cached and cached[1] - REFRESH_MARGIN > _now():
                return cached[0]
        token, expires_at = await self._refresh_if_needed(realm_id, force_refresh, refused=refused)
        self._cache[realm_id] = (token, expires_at)
        return token

    async def refresh_now(self, realm_id: str) -> None:
        """Refresh regardless of expiry (keeps an idle realm's 100-day refresh token alive)."""
        self._cache.pop(realm_id, None)
        await self._refresh_if_needed(realm_id, force=True, keepalive=True)

    async def _refresh_if_needed(
        self, realm_id: str, force: bool, *, keepalive: bool = False, refused: str | None = None
    ) -> tuple[str, datetime]:
        failure: OAuthGrantError | None = None
        async with side_transaction(self._factory) as session:
            await advisory_xact_lock(session, LockNamespace.TOKEN_REFRESH, realm_id)
            connection = await connections.get_by_realm(session, realm_id)
            if connection is None or connection.status is not ConnectionStatus.ACTIVE:
                status = connection.status.value if connection else "not connected"
                raise ConnectionPausedError(realm_id, status)
            if not self._needs_refresh(connection, force, keepalive, refused):
                return self._current(connection)
            assert connection.refresh_token_enc is not None
            try:
                tokens = await self._oauth.refresh(
                    self._cipher.decrypt(connection.refresh_token_enc)
                )
            except OAuthGrantError as exc:
                # Committed below, before the error leaves: the connection must show why it stopped.
                failure = exc
                await self._on_refused(session, connection, str(exc))
            else:
                store_tokens(connection, tokens, self._cipher)
                log.info("qbo.token.refreshed", realm_id=realm_id, keepalive=keepalive)
                metrics.TOKEN_REFRESHES.labels(realm=realm_id, outcome="refreshed").inc()
                return tokens.access_token, tokens.expires_at
        log.warning("qbo.token.invalid_grant", realm_id=realm_id, error=failure.error)
        metrics.TOKEN_REFRESHES.labels(realm=realm_id, outcome="invalid_grant").inc()
        raise ConnectionPausedError(realm_id, ConnectionStatus.NEEDS_RECONNECT.value) from failure

    def _needs_refresh(
        self, connection: Connection, force: bool, keepalive: bool, refused: str | None
    ) -> bool:
        expires_at = connection.access_token_expires_at
        if connection.access_token_enc is None or expires_at is None:
            return True
        if keepalive:
            return True
        if force and refused is not None:
            # Refused and still stored: refresh, however recently it was issued (QBO revoked or
            # expired it). Already replaced by another caller: use the replacement.
            return self._cipher.decrypt(connection.access_token_enc) == refused
        if force:
            refreshed = connection.token_refreshed_at
            return refreshed is None or refreshed < _now() - JUST_REFRESHED
        return expires_at - REFRESH_MARGIN <= _now()

    def _current(self, connection: Connection) -> tuple[str, datetime]:
        assert connection.access_token_enc is not None
        assert connection.access_token_expires_at is not None
        return self._cipher.decrypt(connection.access_token_enc), connection.access_token_expires_at

    def forget(self, realm_id: str) -> None:
        self._cache.pop(realm_id, None)
