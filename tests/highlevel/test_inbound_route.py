"""POST /v1/highlevel/webhooks through the real app, database and intake (no worker): the
documented payloads (samples/, copied from GoHighLevel/highlevel-api-docs) signed with an
Ed25519 key generated here, as HighLevel signs them (X-GHL-Signature over the raw body)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import func, select

from app.config import CrmSettings, HighLevelSettings, QboSettings, Settings
from app.db.session import SessionFactory
from app.models import CrmEvent
from app.repositories import highlevel_locations
from app.state import AppState
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN

SAMPLES = Path(__file__).parent / "samples"
URL = "/v1/highlevel/webhooks"
LOCATION = "otg8dTQqGLh3Q6iQI55w"  # AppInstall.json's locationId
KEY = Ed25519PrivateKey.generate()  # synthetic: a test key, HighLevel's is theirs


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    pem = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Settings(
        DATABASE_URL=database_url,
        QBS_DATA_DIR=tmp_path / "data",
        QBS_AUTO_MIGRATE=False,
        TOKEN_ENCRYPTION_KEYS=FERNET_KEY,
        crm=CrmSettings(signing_secret=SecretStr(SIGNING_SECRET), api_key=SecretStr(API_KEY)),
        qbo=QboSettings(webhook_verifier_token=SecretStr(VERIFIER_TOKEN)),
        highlevel=HighLevelSettings(webhook_public_key=pem),
    )


def sample(name: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return {**document, **changes}


def invoice(**changes: Any) -> dict[str, Any]:
    # The docs' example, at our installed location, in live mode, delivered now.
    base = {
        "altId": LOCATION,
        "liveMode": True,
        "webhookId": "wh-1",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return sample("InvoiceSent", **(base | changes))


async def deliver(
    client: httpx.AsyncClient, document: dict[str, Any], *, signature: str | None = None
) -> httpx.Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    headers["X-GHL-Signature"] = signature or base64.b64encode(KEY.sign(body)).decode()
    return await client.post(URL, content=body, headers=headers)


async def stored(db: SessionFactory) -> int:
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(CrmEvent))).scalar_one())


@pytest.fixture
async def installed(client: httpx.AsyncClient) -> None:
    response = await deliver(client, sample("AppInstall"))
    assert response.json()["status"] == "accepted"


async def test_install_makes_the_location_known_before_quickbooks(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    assert (await client.get(f"/v1/connections/{LOCATION}", headers=_auth())).status_code == 404
    response = await deliver(client, sample("AppInstall"))
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    known = await client.get(f"/v1/connections/{LOCATION}", headers=_auth())
    assert known.status_code == 200
    async with db() as session:
        assert await highlevel_locations.is_installed(session, LOCATION)


async def test_a_bulk_install_registers_every_location(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    bulk = sample("AppInstall", locationIds=["bulk-a", "bulk-b"])
    del bulk["locationId"]
    assert (await deliver(client, bulk)).json()["status"] == "accepted"
    async with db() as session:
        assert await highlevel_locations.is_installed(session, "bulk-a")
        assert await highlevel_locations.is_installed(session, "bulk-b")


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def test_a_bad_or_missing_signature_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    other = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
    assert (await deliver(client, invoice(), signature=other)).status_code == 401
    body = json.dumps(invoice()).encode()
    unsigned = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert await stored(db) == 0


async def test_an_invoice_is_stored_once_and_a_redelivery_is_a_duplicate(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    first = await deliver(client, invoice())
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    again = await deliver(client, invoice())
    assert again.json() == {**first.json(), "status": "duplicate"}
    # Another delivery (new webhookId) of the same invoice state is the same fact.
    other = await deliver(client, invoice(webhookId="wh-2"))
    assert other.json()["status"] == "duplicate"
    assert await stored(db) == 1


async def test_test_mode_is_ignored_unless_the_location_opts_in(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    response = await deliver(client, invoice(liveMode=False))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert "test mode" in response.json()["reason"]
    assert await stored(db) == 0


async def test_drafts_and_unknown_locations_are_ignored(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    assert (await deliver(client, invoice(status="draft"))).json()["status"] == "ignored"
    elsewhere = await deliver(client, invoice(altId="not-installed"))
    assert elsewhere.json()["reason"] == "location not installed"
    assert await stored(db) == 0


async def test_a_delivery_past_the_replay_window_and_retry_span_is_not_stored(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    # HighLevel re-sends the same payload up to ~70 minutes later: that still counts.
    retry = await deliver(
        client, invoice(timestamp=(datetime.now(UTC) - timedelta(minutes=60)).isoformat())
    )
    assert retry.json()["status"] == "accepted"
    old = await deliver(
        client,
        invoice(
            timestamp=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            updatedAt="2023-12-13T00:00:00.000Z",
        ),
    )
    assert old.json() == {"status": "ignored", "reason": "outside the replay window", "id": None}
    assert await stored(db) == 1


async def test_uninstall_stops_the_location(
    client: httpx.AsyncClient, db: SessionFactory, installed: None
) -> None:
    assert (await deliver(client, sample("AppUninstall"))).json()["status"] == "accepted"
    assert (await deliver(client, invoice())).json()["reason"] == "location not installed"


async def test_the_intake_unavailable_is_429_so_highlevel_retries(
    client: httpx.AsyncClient, state: AppState, installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_: object) -> None:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(state.intake, "store", down)
    response = await deliver(client, invoice())
    assert response.status_code == 429
    assert response.headers["Retry-After"]
