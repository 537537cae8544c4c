"""Installing the HighLevel app on a sub-account, through the stand-in over HTTP: the location
and its encrypted tokens are kept, the browser lands on the location's card (HighLevel section,
QuickBooks connect toggles), and tokens are refreshed once however many callers need them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from app.config import Settings
from app.db.session import SessionFactory
from app.models import HighLevelLocation
from app.repositories import connections, highlevel_locations
from app.services.highlevel_tokens import HighLevelNotConnected, HighLevelTokens
from app.state import AppState
from tests.highlevel.hl_fixtures import highlevel_settings, hl_config, hl_emulator, install

__all__ = ["hl_config", "hl_emulator"]

LOCATION = "hlLoc1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, hl_emulator: str) -> Settings:
    return highlevel_settings(database_url, tmp_path, hl_emulator)


async def test_install_ends_on_the_card_with_the_connect_toggles(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory
) -> None:
    answer = await install(client, hl_emulator, LOCATION)
    assert answer.status_code == 303
    card_url = answer.headers["location"]
    assert card_url.startswith("/v1/card?")
    assert parse_qs(urlsplit(card_url).query)["notice"] == ["highlevel_installed"]

    card = await client.get(card_url)
    assert card.status_code == 200
    page = card.text
    assert "The app is installed on this HighLevel sub-account" in page
    assert "Connect to QuickBooks" in page
    assert 'name="import_invoices"' in page
    assert 'name="review_automation"' in page
    assert "HighLevel" in page
    assert "Connected" in page

    async with db() as session:
        location = await highlevel_locations.get(session, LOCATION)
        assert location is not None
        assert location.installed
        assert location.access_token_enc
        assert location.refresh_token_enc
        assert location.scopes
        assert "contacts.write" in location.scopes
        # Known before QuickBooks is connected, like any location (GET /v1/connections/{id}).
        assert await connections.get_by_location(session, LOCATION) is not None


async def test_tokens_are_stored_encrypted(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    token = await state.services.highlevel.tokens.access_token(LOCATION)
    async with db() as session:
        location = await highlevel_locations.get(session, LOCATION)
    assert location is not None
    assert location.access_token_enc is not None
    assert token not in location.access_token_enc
    assert state.services.cipher.decrypt(location.access_token_enc) == token


async def test_a_refused_install_code_shows_a_page_not_a_card(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/highlevel/oauth/callback", params={"code": "not-a-code"})
    assert answer.status_code == 400
    assert "did not accept" in answer.text


async def _expire(db: SessionFactory) -> None:
    async with db() as session, session.begin():
        await session.execute(
            update(HighLevelLocation)
            .where(HighLevelLocation.location_id == LOCATION)
            .values(token_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


async def test_an_expired_token_is_refreshed_once_for_many_callers(
    client: httpx.AsyncClient, hl_emulator: str, db: SessionFactory, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    first = await state.services.highlevel.tokens.access_token(LOCATION)
    await _expire(db)
    api = state.services.highlevel
    # Two token providers stand for two worker processes (separate caches, one database). The
    # stand-in spends a refresh token when used (refresh_rotation), so a second refresh with the
    # old one would be refused and that caller would fail.
    providers = [HighLevelTokens(db, state.services.cipher, api.oauth) for _ in range(2)]
    tokens = await asyncio.gather(
        *(provider.access_token(LOCATION) for provider in providers for _ in range(5))
    )
    assert len(set(tokens)) == 1
    assert tokens[0] != first
    async with httpx.AsyncClient() as hl:
        # The new token works against HighLevel's API.
        answer = await hl.get(
            f"{hl_emulator}/contacts/",
            params={"locationId": LOCATION},
            headers={"Authorization": f"Bearer {tokens[0]}", "Version": "2021-07-28"},
        )
    assert answer.status_code == 200, answer.text


async def test_a_token_highlevel_refuses_is_refreshed_and_the_call_made_again(
    client: httpx.AsyncClient, hl_emulator: str, state: AppState
) -> None:
    await install(client, hl_emulator, LOCATION)
    api = state.services.highlevel
    before = await api.tokens.access_token(LOCATION)
    async with httpx.AsyncClient() as hl:
        expired = await hl.post(f"{hl_emulator}/_emulator/locations/{LOCATION}/expire-tokens")
        assert expired.status_code == 200
    used: list[str] = []

    async def list_contacts(token: str) -> dict[str, object]:
        used.append(token)
        return await api.http.get(
            "/contacts/", token=token, params={"locationId": LOCATION}, location_id=LOCATION
        )

    answer = await api.tokens.call(LOCATION, list_contacts)
    assert "contacts" in answer
    assert used[0] == before
    assert used[1] != before


async def test_a_location_without_the_app_is_not_connected(state: AppState) -> None:
    with pytest.raises(HighLevelNotConnected):
        await state.services.highlevel.tokens.access_token("never-installed")
