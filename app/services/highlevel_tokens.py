"""Access tokens for HighLevel API calls, per location: refreshed before expiry or on a 401, once.

Like app/services/tokens.py for QBO: a refresh holds the token-refresh advisory lock for the
location and re-reads the row after acquiring it, so concurrent callers (in any process) cause one
token request, and the rotated refresh token (HighLevel replaces it on every refresh,
docs/oauth/Faqs.md) is written with the new access token in one side transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import SessionFactory, side_transaction
from app.errors import PermanentError
from app.integrations.highlevel.http import HighLevelUnauthorizedError
from app.integrations.highlevel.oauth import HighLevelGrantError, HighLevelOAuth, HighLevelTokenSet
from app.logging import get_logger
from app.repositories import highlevel_locations
from app.security.tokens import TokenCipher

log = get_logger(__name__)

T = TypeVar("T")

REFRESH_MARGIN = timedelta(minutes=5)
# Keys in the shared token-refresh lock namespace; the prefix keeps them apart from QBO realms.
LOCK_PREFIX = "highlevel:"


class HighLevelNotConnected(PermanentError):  # noqa: N818 - the name hlin and the plan use
    """The location has no usable HighLevel tokens: the app is not installed (or was refused)."""

    http_status = 409
    public_code = "highlevel_not_connected"

    def __init__(self, location_id: str, reason: str) -> None:
        super().__init__(f"HighLevel location {location_id} is not connected: {reason}")
        self.location_id = location_id


def _now() -> datetime:
    return datetime.now(UTC)


class HighLevelTokens:
    def __init__(
        self, factory: SessionFactory, cipher: TokenCipher, oauth: HighLevelOAuth | None
    ) -> None:
        self._factory = factory
        self._cipher = cipher
        self._oauth = oauth
        self._cache: dict[str, tuple[str, datetime]] = {}
        # In-process single flight: one caller per location goes to the database at a time.
        self._locks: dict[str, asyncio.Lock] = {}

    async def access_token(self, location_id: str, *, refused: str | None = None) -> str:
        """The location's access token; `refused` (one a 401 answered) forces a refresh unless
        another caller already replaced it."""
        cached = self._cache.get(location_id)
        if refused is None and cached and cached[1] - REFRESH_MARGIN > _now():
            return cached[0]
        async with self._locks.setdefault(location_id, asyncio.Lock()):
            cached = self._cache.get(location_id)
            if cached and cached[0] != refused and cached[1] - REFRESH_MARGIN > _now():
                return cached[0]
            token, expires_at = await self._refresh_if_needed(location_id, refused)
            self._cache[location_id] = (token, expires_at)
            return token

    async def call(self, location_id: str, request: Callable[[str], Awaitable[T]]) -> T:
        """Run `request(token)`; on a 401, once more with a refreshed token."""
        token = await self.access_token(location_id)
        try:
            return await request(token)
        except HighLevelUnauthorizedError:
            log.info("highlevel.token.refused", location_id=location_id)
            token = await self.access_token(location_id, refused=token)
            return await request(token)

    async def store(self, location_id: str, tokens: HighLevelTokenSet) -> None:
        """Keep the tokens an install (code exchange) produced."""
        async with side_transaction(self._factory) as session:
            await highlevel_locations.set_tokens(
                session,
                location_id,
                access_token_enc=self._cipher.encrypt(tokens.access_token),
                refresh_token_enc=self._cipher.encrypt(tokens.refresh_token),
                expires_at=tokens.expires_at,
                refreshed_at=_now(),
                scopes=tokens.scope,
            )
        self._cache[location_id] = (tokens.access_token, tokens.expires_at)

    def forget(self, location_id: str) -> None:
        self._cache.pop(location_id, None)

    async def _refresh_if_needed(
        self, location_id: str, refused: str | None
    ) -> tuple[str, datetime]:
        failure: HighLevelGrantError | None = None
        async with side_transaction(self._factory) as session:
            await advisory_xact_lock(
                session, LockNamespace.TOKEN_REFRESH, LOCK_PREFIX + location_id
            )
            stored = await highlevel_locations.get_tokens(session, location_id)
            if stored is None or stored.refresh_token_enc is None:
                raise HighLevelNotConnected(location_id, "the app is not installed")
            if stored.access_token_enc is not None and stored.expires_at is not None:
                current = self._cipher.decrypt(stored.access_token_enc)
                fresh = stored.expires_at - REFRESH_MARGIN > _now()
                if fresh and current != refused:
                    return current, stored.expires_at
            if self._oauth is None:
                raise HighLevelNotConnected(location_id, "HIGHLEVEL_CLIENT_ID is not set")
            try:
                tokens = await self._oauth.refresh(self._cipher.decrypt(stored.refresh_token_enc))
            except HighLevelGrantError as exc:
                failure = exc
                await highlevel_locations.record_api_outcome(
                    session, location_id, _now(), f"token refresh refused: {exc}"
                )
            else:
                await highlevel_locations.set_tokens(
                    session,
                    location_id,
                    access_token_enc=self._cipher.encrypt(tokens.access_token),
                    refresh_token_enc=self._cipher.encrypt(tokens.refresh_token),
                    expires_at=tokens.expires_at,
                    refreshed_at=_now(),
                    scopes=tokens.scope,
                )
                log.info("highlevel.token.refreshed", location_id=location_id)
                return tokens.access_token, tokens.expires_at
        log.warning("highlevel.token.invalid_grant", location_id=location_id)
        raise HighLevelNotConnected(location_id, "HighLevel refused the refresh token") from failure
