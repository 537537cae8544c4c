"""Fixtures for the HighLevel stand-in's own tests: a fresh in-process stand-in per test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from highlevel_emulator.app import create_app, emulator_of
from highlevel_emulator.config import HighLevelEmulatorConfig
from highlevel_emulator.state import HighLevelEmulator

# Copies of the examples in GoHighLevel/highlevel-api-docs (each .src.txt names its source).
SAMPLES = Path(__file__).parent / "samples"
WEBHOOK_URL = "http://hooks.test/highlevel"
CLIENT_ID = HighLevelEmulatorConfig.client_id
CLIENT_SECRET = HighLevelEmulatorConfig.client_secret
REDIRECT = "http://app.test/oauth/callback"
VERSION = {"Version": "2021-07-28"}


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@dataclass
class HookInbox:
    """Records webhook deliveries; `statuses` scripts the replies (then 200)."""

    requests: list[httpx.Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies() if b.get("type") == event_type]


@dataclass
class Stand:
    http: httpx.AsyncClient
    emu: HighLevelEmulator
    inbox: HookInbox

    async def flush(self) -> dict[str, int]:
        response = await self.http.post("/_emulator/webhooks/flush")
        assert response.status_code == 200
        result: dict[str, int] = response.json()
        return result

    async def control(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.http.request(method, "/_emulator" + path, json=body)
        assert response.status_code == status, response.text
        return response.json()

    async def location(self, location_id: str = "LOC1", **extra: Any) -> dict[str, Any]:
        body = {"location_id": location_id, **extra}
        result: dict[str, Any] = await self.control("POST", "/locations", body, 201)
        return result

    async def connect(self, location_id: str = "LOC1") -> dict[str, Any]:
        """Install the app on the location and trade the code for tokens, as an app would."""
        installed = await self.control("POST", f"/locations/{location_id}/install", {})
        response = await self.http.post(
            "/oauth/token",
            data={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant_type": "authorization_code",
                "code": installed["code"],
                "user_type": "Location",
                "redirect_uri": REDIRECT,
            },
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def contact(self, location_id: str = "LOC1", **fields: Any) -> dict[str, Any]:
        body = fields or {"firstName": "Alex", "lastName": "Doe", "email": "alex@example.com"}
        result: dict[str, Any] = await self.control(
            "POST", f"/locations/{location_id}/contacts", body, 201
        )
        return result


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}", **VERSION}


@pytest.fixture
def config() -> HighLevelEmulatorConfig:
    return HighLevelEmulatorConfig(webhook_url=WEBHOOK_URL, seed=7)


@pytest.fixture
async def stand(config: HighLevelEmulatorConfig) -> AsyncIterator[Stand]:
    inbox = HookInbox()
    config.webhook_transport = httpx.MockTransport(inbox.handler)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hl.test") as http:
            yield Stand(http, emulator_of(app), inbox)
