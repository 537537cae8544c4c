from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.db.provision import Database
from app.main import create_app


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "current"


async def test_readyz_is_503_on_an_unmigrated_database(
    settings: Settings, scratch_database: str
) -> None:
    app = create_app(settings, run_worker=False, database=Database(scratch_database))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert "migrate" in response.json()["migrations"]


@pytest.mark.usefixtures("db")
async def test_readyz_is_503_when_the_database_is_gone(
    settings: Settings, client: httpx.AsyncClient, service: object
) -> None:
    from app.api.state import AppState

    state = service.state.qbs  # type: ignore[attr-defined]
    assert isinstance(state, AppState)
    await state.engine.dispose()
    from app.db.session import create_engine

    # Point the service at a port nothing listens on, as if the server had gone away.
    state.engine = create_engine("postgresql://postgres@127.0.0.1:9/none")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    await state.engine.dispose()


async def test_responses_carry_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_connections_need_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections", json={"location_id": "x"})
    assert response.status_code == 401
    wrong = await client.post(
        "/v1/connections", json={"location_id": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
