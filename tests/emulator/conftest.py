"""Fixtures for the emulator's own tests: a fresh in-process emulator per test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from qbo_emulator.app import create_app, emulator_of
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.state import Emulator

# Verbatim copies of ../shared/reference/qbo-samples (each .src.txt names its source).
SAMPLES = Path(__file__).parent / "samples"
WEBHOOK_URL = "http://hooks.test/qbo"


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


@dataclass
class HookInbox:
    """Records webhook deliveries; `statuses` scripts the replies (then 200)."""

    requests: list[httpx.Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@dataclass
class QBO:
    """A thin client for one realm, the way an integration would call QBO."""

    http: httpx.AsyncClient
    emu: Emulator
    realm: str
    token: str
    refresh_token: str

    @property
    def base(self) -> str:
        return f"/v3/company/{self.realm}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(self.base + path, params=params, headers=self.headers())

    async def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return await self.http.post(
            self.base + path, json=body, params=params, headers=self.headers()
        )

    async def create(self, entity: str, body: Any, **params: Any) -> dict[str, Any]:
        response = await self.post(f"/{entity.lower()}", body, **params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()[entity]
        return result

    async def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = await self.get(f"/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()[entity]
        return result

    async def query(self, statement: str) -> httpx.Response:
        return await self.get("/query", query=statement, minorversion="75")


async def new_company(http: httpx.AsyncClient, emu: Emulator, **spec: Any) -> QBO:
    response = await http.post("/_emulator/companies", json=spec)
    assert response.status_code == 201, response.text
    realm = response.json()["realm_id"]
    tokens = (await http.post(f"/_emulator/companies/{realm}/tokens")).json()
    return QBO(http, emu, realm, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def inbox() -> HookInbox:
    return HookInbox()


@pytest.fixture
def config(inbox: HookInbox) -> EmulatorConfig:
    return EmulatorConfig(
        base_url="http://emu.test",
        webhook_url=WEBHOOK_URL,
        webhook_batch_window_s=0.05,
        webhook_retry_schedule_s=(0.01, 0.02),
        webhook_transport=httpx.MockTransport(inbox.handler),
        seed=1234,
    )


@pytest.fixture
async def app(config: EmulatorConfig) -> AsyncIterator[FastAPI]:
    application = create_app(config)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
        yield client


@pytest.fixture
def emu(app: FastAPI) -> Emulator:
    return emulator_of(app)


@pytest.fixture
async def qbo(http: httpx.AsyncClient, emu: Emulator) -> QBO:
    return await new_company(http, emu, country="US", sales_tax_rate="8.25")


@pytest.fixture
async def uk(http: httpx.AsyncClient, emu: Emulator) -> QBO:
    return await new_company(http, emu, country="GB")
