"""Access tokens for HighLevel API calls, per location: refreshed before expiry or on a 401, once.

Callers in one process share one refresh (a lock per location). Unlike QBO's token service, no
database transaction or lock is held across the token request, since HighLevel is the CRM and no
transaction may wait on the CRM: processes that refresh at the same moment are sorted out by
HighLevel itself, which spends a refresh token on use (docs/oauth/Faqs.md), and the refused one
reads the winner's tokens from the row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from app.db.session import SessionFactory, side_transaction
from app.errors import PermanentError
from app.integrations.highlevel.http import HighLevelUnauthorizedError
from app.integrations.highlevel.oauth import HighLevelGrantError, HighLevelOAuth, HighLevelTokenSet
from app.logging import get_logger
from app.repositories import highlevel_locations
from app.repositories.highlevel_locations import StoredTokens
from app.security.tokens import TokenCipher

log = get_logger(__name__)

T = TypeVar("T")

REFRESH_MARGIN = timedelta(minutes=5)


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
        # No transaction is held while HighLevel (the CRM) answers the token request: the row is
        # read, the refresh is sent, and the result written, each on its own. Two processes may
        # then both refresh; HighLevel spends a refresh token on use (docs/oauth/Faqs.md), so the
        # loser is refused and finds the winner's tokens when it reads the row again.
        stored = await self._stored(location_id)
        if stored.access_token_enc is not None and stored.expires_at is not None:
            current = self._cipher.decrypt(stored.access_token_enc)
            if stored.expires_at - REFRESH_MARGIN > _now() and current != refused:
                return current, stored.expires_at
        if self._oauth is None:
            raise HighLevelNotConnected(location_id, "HIGHLEVEL_CLIENT_ID is not set")
        assert stored.refresh_token_enc is not None
        used = self._cipher.decrypt(stored.refresh_token_enc)
        try:
            tokens = await self._oauth.refresh(used)
        except HighLevelGrantError as exc:
            return await self._after_refusal(location_id, used, exc)
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
        log.info("highlevel.token.refreshed", location_id=location_id)
        return tokens.access_token, tokens.expires_at

    async def _stored(self, location_id: str) -> StoredTokens:
        async with side_transaction(self._factory) as session:
            stored = await highlevel_locations.get_tokens(session, location_id)
        if stored is None or stored.refresh_token_enc is None:
            raise HighLevelNotConnected(location_id, "the app is not installed")
        return stored

    async def _after_refusal(
        self, location_id: str, used: str, failure: HighLevelGrantError
    ) -> tuple[str, datetime]:
        """A sibling that refreshed first left new tokens in the row; otherwise the refusal is
        real and the location needs the app installed again."""
        stored = await self._stored(location_id)
        assert stored.refresh_token_enc is not None
        replaced = self._cipher.decrypt(stored.refresh_token_enc) != used
        if replaced and stored.access_token_enc is not None and stored.expires_at is not None:
            log.info("highlevel.token.refreshed_by_sibling", location_id=location_id)
            return self._cipher.decrypt(stored.access_token_enc), stored.expires_at
        async with side_transaction(self._factory) as session:
            await highlevel_locations.record_api_outcome(
                session, location_id, _now(), f"token refresh refused: {failure}"
            )
        log.warning("highlevel.token.invalid_grant", location_id=location_id)
        raise HighLevelNotConnected(location_id, "HighLevel refused the refresh token") from failure
