"""Driving the CRM -> QBO sync end to end: signed events in, QBO state and sync log out."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db.session import SessionFactory
from app.integrations.crm.signatures import sign
from app.models import CrmCallback, CrmEvent, SyncLogEntry
from app.models.states import InboundState
from tests.fixtures.app import SIGNING_SECRET


async def post(base: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Signature": sign(SIGNING_SECRET, body, int(time.time())),
    }
    async with httpx.AsyncClient() as http:
        return await http.post(f"{base}/v1/crm/events", content=body, headers=headers)


async def settle(db: SessionFactory, timeout_s: float = 30) -> list[CrmEvent]:
    """Wait until the in-process worker has processed every event (none pending or processing)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as session:
            rows = list((await session.execute(select(CrmEvent).order_by(CrmEvent.id))).scalars())
        waiting = [r for r in rows if r.state in (InboundState.PENDING, InboundState.PROCESSING)]
        if rows and not waiting:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(
                f"events still waiting: {[(r.event_id, r.state_reason) for r in waiting]}"
            )
        await asyncio.sleep(0.1)


async def entries(db: SessionFactory) -> list[SyncLogEntry]:
    async with db() as session:
        return list(
            (await session.execute(select(SyncLogEntry).order_by(SyncLogEntry.id))).scalars()
        )


async def callbacks(db: SessionFactory, type_: str = "sync.result") -> list[CrmCallback]:
    async with db() as session:
        result = await session.execute(
            select(CrmCallback).where(CrmCallback.type == type_).order_by(CrmCallback.created_at)
        )
        return list(result.scalars())


async def count_events(db: SessionFactory) -> int:
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(CrmEvent))).scalar_one())


class Qbo:
    """Read the emulator's stored objects the way a person would look in QuickBooks."""

    def __init__(self, emulator: str, realm: str) -> None:
        self.emulator = emulator
        self.realm = realm

    async def all(self, entity: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.emulator) as http:
            response = await http.get(f"/_emulator/companies/{self.realm}/entities/{entity}")
        items: list[dict[str, Any]] = response.json()[entity]
        return items

    async def one(self, entity: str) -> dict[str, Any]:
        items = await self.all(entity)
        assert len(items) == 1, f"expected one {entity}, found {len(items)}"
        return items[0]

    async def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.emulator) as http:
            response = await http.post(
                f"/_emulator/companies/{self.realm}/entities/{entity}", json=body
            )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()[entity]
        return created

    async def requests(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.emulator) as http:
            log: dict[str, Any] = (
                await http.get(f"/_emulator/companies/{self.realm}/requests")
            ).json()
        return log
