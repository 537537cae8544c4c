"""Token lifecycle against the emulator: single-flight refresh, rotation, invalid_grant (C2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select, text

from app.config import Settings
from app.db.session import SessionFactory
from app.integrations.quickbooks.auth import IntuitOAuth, TokenSet, endpoints_for
from app.integrations.quickbooks.client import QboClient
from app.models import Connection, CrmCallback
from app.models.states import ConnectionStatus
from app.security.tokens import TokenCipher
from app.services.qbo_limiter import PostgresRealmLimiter
from app.services.tokens import ConnectionPausedError, TokenService
from app.sync.connections import status as connection_status
from qbo_emulator.config import EmulatorConfig
from tests.fixtures.app import FERNET_KEY


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    return auto_consent_config


@dataclass
class CountingOAuth:
    """The real IntuitOAuth, counting the refresh requests it sends."""

    inner: IntuitOAuth
    refreshes: int = 0

    async def refresh(self, refresh_token: str) -> TokenSet:
        self.refreshes += 1
        return await self.inner.refresh(refresh_token)


@pytest.fixture
async def oauth(live_service: tuple[str, Settings]) -> AsyncIterator[CountingOAuth]:
    _, settings = live_service
    inner = IntuitOAuth(
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        redirect_uri=settings.qbo.redirect_uri or "",
        endpoints=endpoints_for(settings.qbo.oauth_base_url),
    )
    yield CountingOAuth(inner)
    await inner.aclose()


@pytest.fixture
def tokens(db: SessionFactory, oauth: CountingOAuth) -> TokenService:
    return TokenService(
        db,
        TokenCipher([FERNET_KEY]),
        oauth,  # type: ignore[arg-type]
        on_refused=connection_status.needs_reconnect,
    )


async def connection(db: SessionFactory) -> Connection:
    async with db() as session:
        return (await session.execute(select(Connection))).scalar_one()


async def test_ten_concurrent_jobs_needing_a_refresh_cause_one_token_request(
    connected_realm: str,
    tokens: TokenService,
    oauth: CountingOAuth,
    db: SessionFactory,
    emulator: str,
) -> None:
    before = await connection(db)
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE connections SET access_token_expires_at = now() - interval '1 minute'")
        )
    results = await asyncio.gather(*(tokens.access_token(connected_realm) for _ in range(10)))
    assert oauth.refreshes == 1
    assert len(set(results)) == 1
    after = await connection(db)
    assert after.refresh_token_enc != before.refresh_token_enc, "the rotated refresh token is kept"
    # The new token works.
    async with httpx.AsyncClient() as http:
        client = QboClient(http, base_url=emulator, tokens=tokens, limiter=PostgresRealmLimiter(db))
        info = await client.realm(connected_realm).company_info()
    assert info.CompanyName


async def test_a_401_racing_a_fresh_refresh_does_not_refresh_again(
    connected_realm: str, tokens: TokenService, oauth: CountingOAuth
) -> None:
    first = await tokens.access_token(connected_realm, force_refresh=True)
    results = await asyncio.gather(
        *(tokens.access_token(connected_realm, force_refresh=True) for _ in range(5))
    )
    assert oauth.refreshes == 0, "the connect flow's token was obtained seconds ago"
    assert set(results) == {first}


async def test_superseded_refresh_token_marks_needs_reconnect_and_stops(
    connected_realm: str,
    tokens: TokenService,
    oauth: CountingOAuth,
    db: SessionFactory,
) -> None:
    stored = await connection(db)
    assert stored.refresh_token_enc is not None
    # Someone else refreshed with our refresh token: Intuit rotated it, ours is now superseded.
    await oauth.inner.refresh(TokenCipher([FERNET_KEY]).decrypt(stored.refresh_token_enc))
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE connections SET access_token_expires_at = now() - interval '1 minute'")
        )
    with pytest.raises(ConnectionPausedError, match="needs_reconnect"):
        await tokens.access_token(connected_realm)
    assert oauth.refreshes == 1
    paused = await connection(db)
    assert paused.status is ConnectionStatus.NEEDS_RECONNECT
    assert paused.status_reason is not None
    assert "reconnect" in paused.status_reason
    async with db() as session:
        callbacks = (await session.execute(select(CrmCallback))).scalars().all()
    assert [(c.type, c.payload["status"]) for c in callbacks][-1] == (
        "connection.status",
        "needs_reconnect",
    )
    # Nothing is retried forever: later calls fail at once, without asking Intuit again.
    with pytest.raises(ConnectionPausedError):
        await tokens.access_token(connected_realm)
    assert oauth.refreshes == 1
