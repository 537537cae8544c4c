"""Per-realm QBO limits shared through Postgres: never more than 10 in flight or 10 started in
any second, no 429s."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from app.db.session import SessionFactory
from app.integrations.quickbooks.client import QboClient
from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.query import Select
from app.services.qbo_limiter import PostgresRealmLimiter
from qbo_emulator.config import EmulatorConfig


async def test_fifty_concurrent_callers_never_exceed_ten_in_flight(db: SessionFactory) -> None:
    # A high per-second cap leaves the in-flight cap as the one that binds.
    limiter = PostgresRealmLimiter(db, per_second=1000)
    # Two limiter instances stand for two processes sharing the database.
    other_process = PostgresRealmLimiter(db, per_second=1000)
    in_flight = 0
    peak = 0

    async def call(lim: PostgresRealmLimiter) -> None:
        nonlocal in_flight, peak
        async with lim.slot("realm-1"):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1

    await asyncio.gather(*(call(limiter if n % 2 else other_process) for n in range(50)))
    # The safety bound only: how close to 10 the peak gets depends on the machine's load, and is
    # measured by bench/limiter_concurrency.py.
    assert peak <= 10, f"peak in flight was {peak}"


async def test_requests_per_minute_are_capped(db: SessionFactory) -> None:
    limiter = PostgresRealmLimiter(db, per_minute=5, max_wait_s=0.5)

    async def call() -> None:
        async with limiter.slot("realm-2"):
            pass

    for _ in range(5):
        await call()
    with pytest.raises(TimeoutError, match="realm-2"):
        await call()
    # Another realm has its own budget.
    async with limiter.slot("realm-3"):
        pass


async def test_no_more_than_ten_start_in_any_second(db: SessionFactory) -> None:
    # Intuit throttles at 10 requests a second per realm and app, whatever the latency: quick
    # requests that never fill the 10 in-flight slots must still be paced.
    limiter = PostgresRealmLimiter(db)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def call() -> None:
        async with limiter.slot("realm-4"):
            starts.append(loop.time())

    await asyncio.gather(*(call() for _ in range(15)))
    starts.sort()
    assert all(later - first >= 0.95 for first, later in zip(starts, starts[10:], strict=False))


class StaticTokens:
    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(
        self, realm_id: str, *, force_refresh: bool = False, refused: str | None = None
    ) -> str:
        return self.token


async def mint(emulator: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=emulator) as http:
        realm = (await http.post("/_emulator/companies", json={"country": "US"})).json()["realm_id"]
        token = (await http.post(f"/_emulator/companies/{realm}/tokens")).json()["access_token"]
    return realm, token


@pytest.fixture
def emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    # Slow answers make concurrency visible: without the limiter, 40 calls would hit 429.
    return replace(emulator_config, latency_ms=50)


async def test_thirty_concurrent_reads_against_the_emulator_get_no_429(
    db: SessionFactory, emulator: str
) -> None:
    # The emulator throttles as Intuit does (10 a second and 10 in flight per realm and app).
    realm, token = await mint(emulator)
    async with httpx.AsyncClient() as http:
        client = QboClient(
            http, base_url=emulator, tokens=StaticTokens(token), limiter=PostgresRealmLimiter(db)
        )
        await asyncio.gather(*(client.realm(realm).company_info() for _ in range(30)))
    async with httpx.AsyncClient(base_url=emulator) as http:
        log = (await http.get(f"/_emulator/companies/{realm}/requests")).json()
    statuses = [entry["status"] for entry in log["requests"]]
    assert statuses.count(200) == 30
    assert 429 not in statuses
    assert log["throttled"] == {}


async def test_a_query_with_an_apostrophe_finds_the_right_customer(
    db: SessionFactory, emulator: str
) -> None:
    realm, token = await mint(emulator)
    async with httpx.AsyncClient() as http:
        client = QboClient(
            http, base_url=emulator, tokens=StaticTokens(token), limiter=PostgresRealmLimiter(db)
        ).realm(realm)
        people = [("Pat O'Brien", "o'brien@x.com"), ("Pat OBrien", "obrien@x.com")]
        for n, (name, email) in enumerate(people):
            await client.create(
                Customer(DisplayName=name, PrimaryEmailAddr={"Address": email}),
                request_id=f"create-{n}",
            )
        page = await client.query(
            Select("Customer").where("PrimaryEmailAddr", "=", "o'brien@x.com"), Customer
        )
    assert [c.DisplayName for c in page.items] == ["Pat O'Brien"]
