"""The HighLevel stand-in over real HTTP and the service in process, wired to it (hlout's tests).

Imported by the test modules that need them (no conftest: the inbound tests beside them keep
their own `settings`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from app.config import CrmSettings, HighLevelSettings, QboSettings, Settings
from highlevel_emulator.app import create_app as create_highlevel
from highlevel_emulator.config import HighLevelEmulatorConfig
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN
from tests.fixtures.live import free_port, serve

HL_CLIENT_ID = HighLevelEmulatorConfig.client_id
HL_CLIENT_SECRET = HighLevelEmulatorConfig.client_secret
SERVICE = "http://testserver"


@pytest.fixture
def hl_config() -> HighLevelEmulatorConfig:
    # Our own API writes firing webhooks back is modelled by the stand-in, but no webhook URL is
    # set in these tests: the outbound side is what they look at.
    return HighLevelEmulatorConfig(auto_consent=True, api_writes_fire_webhooks=False)


@pytest.fixture
def hl_emulator(hl_config: HighLevelEmulatorConfig) -> Iterator[str]:
    port = free_port()
    hl_config.base_url = f"http://127.0.0.1:{port}"
    with serve(create_highlevel(hl_config), port) as url:
        yield url


def highlevel_settings(
    database_url: str, tmp_path: Path, hl_url: str, callback_url: str | None = None
) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        QBS_DATA_DIR=tmp_path / "data",
        QBS_AUTO_MIGRATE=False,
        PUBLIC_BASE_URL=SERVICE,
        TOKEN_ENCRYPTION_KEYS=FERNET_KEY,
        crm=CrmSettings(
            signing_secret=SecretStr(SIGNING_SECRET),
            api_key=SecretStr(API_KEY),
            callback_url=callback_url,
        ),
        qbo=QboSettings(webhook_verifier_token=SecretStr(VERIFIER_TOKEN)),
        highlevel=HighLevelSettings(
            client_id=HL_CLIENT_ID,
            client_secret=SecretStr(HL_CLIENT_SECRET),
            api_base_url=hl_url,
            oauth_base_url=hl_url,
        ),
    )


async def install(client: httpx.AsyncClient, hl_url: str, location_id: str) -> httpx.Response:
    """An agency admin installs the app on a sub-account: our install link → HighLevel's page
    (auto consent) → our redirect URL. Returns the redirect URL's answer."""
    async with httpx.AsyncClient() as hl:
        created = await hl.post(f"{hl_url}/_emulator/locations", json={"location_id": location_id})
        assert created.status_code == 201, created.text
        start = await client.get("/v1/highlevel/install")
        assert start.status_code == 303
        choose = start.headers["location"]
        assert choose.startswith(f"{hl_url}/v2/oauth/chooselocation?")
        consent = await hl.get(choose + f"&location_id={location_id}")
        assert consent.status_code == 302, consent.text
    back = consent.headers["location"]
    assert back.startswith(f"{SERVICE}/v1/highlevel/oauth/callback?")
    code = parse_qs(urlsplit(back).query)["code"][0]
    return await client.get("/v1/highlevel/oauth/callback", params={"code": code})


async def hl_contacts(hl_url: str, location_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as hl:
        answer = await hl.get(f"{hl_url}/_emulator/locations/{location_id}/contacts")
        answer.raise_for_status()
        contacts: list[dict[str, object]] = answer.json()["contacts"]
        return contacts
