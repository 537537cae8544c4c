"""POST /v1/qbo/webhooks with Intuit's published payloads, signed over the exact raw bytes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from app import metrics
from app.db.session import SessionFactory
from app.models import QboChange
from app.models.states import InboundState
from app.services import job_names as names
from tests.fixtures.events import intuit_headers

# Verbatim copies of ../shared/reference/qbo-samples, kept with the emulator tests.
SAMPLES = Path(__file__).resolve().parents[1] / "emulator" / "samples"
LEGACY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":['
    b'{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"},'
    b'{"name":"Vendor","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"reference sample {name} is not beside this checkout")
    return path.read_bytes()


async def changes(factory: SessionFactory) -> list[QboChange]:
    async with factory() as session:
        return list((await session.execute(select(QboChange).order_by(QboChange.id))).scalars())


async def job_count(factory: SessionFactory) -> int:
    async with factory() as session:
        return int(
            (await session.execute(text("SELECT count(*) FROM procrastinate_jobs"))).scalar_one()
        )


async def deliver(client: httpx.AsyncClient, body: bytes, **kwargs: str) -> httpx.Response:
    return await client.post(
        "/v1/qbo/webhooks", content=body, headers=intuit_headers(body, **kwargs)
    )


async def test_legacy_payload_stores_one_change_per_entity(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    response = await deliver(client, LEGACY)
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    stored = await changes(db)
    assert [(c.realm_id, c.entity, c.entity_id, c.operation, c.source) for c in stored] == [
        ("1185883450", "Customer", "1", "Create", "legacy"),
        ("1185883450", "Vendor", "1", "Create", "legacy"),
    ]
    assert await job_count(db) == 2


async def test_cloudevents_sample_is_stored(client: httpx.AsyncClient, db: SessionFactory) -> None:
    response = await deliver(client, sample("webhook-cloudevents-blog-sample.json"))
    assert response.status_code == 200
    [change] = await changes(db)
    assert (change.realm_id, change.entity, change.entity_id, change.operation) == (
        "310687",
        "Account",
        "1234",
        "Create",
    )
    assert change.dedupe_key == "88cd52aa-33b6-4351-9aa4-47572edbd068"


async def test_cloudevents_merge_keeps_the_merged_away_id(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    response = await deliver(client, sample("webhook-cloudevents-customer-merged.json"))
    assert response.status_code == 200
    [change] = await changes(db)
    assert (change.entity, change.entity_id, change.operation, change.deleted_id) == (
        "Customer",
        "123",
        "Merge",
        "27",
    )


async def test_cloudevent_without_data_or_content_type_is_accepted(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "abc-SalesReceipt-150",
                "source": "intuit.x",
                "type": "qbo.salesreceipt.updated.v1",
                "time": "2026-03-17T16:19:17Z",
                "intuitentityid": "150",
                "intuitaccountid": "9341455",
            }
        ]
    ).encode()
    response = await client.post(
        "/v1/qbo/webhooks",
        content=body,
        headers={**intuit_headers(body), "Content-Type": "application/cloudevents+json"},
    )
    assert response.status_code == 200
    [change] = await changes(db)
    assert (change.entity, change.operation) == ("SalesReceipt", "Update")


async def test_redelivery_is_deduplicated(client: httpx.AsyncClient, db: SessionFactory) -> None:
    first = await deliver(client, LEGACY)
    second = await deliver(client, LEGACY)
    assert (first.json()["accepted"], second.json()["accepted"], second.json()["duplicates"]) == (
        2,
        0,
        2,
    )
    assert len(await changes(db)) == 2
    assert await job_count(db) == 2


async def test_signature_is_over_the_exact_raw_bytes(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    reserialised = json.dumps(json.loads(LEGACY), indent=1).encode()
    response = await client.post(
        "/v1/qbo/webhooks", content=reserialised, headers=intuit_headers(LEGACY)
    )
    assert response.status_code == 401
    assert await changes(db) == []


@pytest.mark.parametrize(
    "headers", [{}, {"intuit-signature": "bm90IGl0"}, {"intuit-signature": "%%%"}]
)
async def test_missing_or_bad_signature_is_401(
    client: httpx.AsyncClient, headers: dict[str, str], db: SessionFactory
) -> None:
    response = await client.post("/v1/qbo/webhooks", content=LEGACY, headers=headers)
    assert response.status_code == 401
    assert await changes(db) == []


async def test_wrong_verifier_token_is_401(client: httpx.AsyncClient) -> None:
    response = await deliver(client, LEGACY, token="another-apps-token")
    assert response.status_code == 401


async def test_signed_but_unreadable_body_is_acknowledged_not_retried(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    response = await deliver(client, b"{not json")
    assert response.status_code == 200
    assert response.json()["status"] == "unreadable"
    assert await changes(db) == []


async def test_one_bad_entry_does_not_drop_the_others(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "42",
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Invoice",
                                "id": "7",
                                "operation": "Update",
                                "lastUpdated": "2026-01-01T00:00:00Z",
                            },
                            {"name": "Invoice", "operation": "Update"},
                        ]
                    },
                }
            ]
        }
    ).encode()
    response = await deliver(client, body)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 1)
    assert [c.entity_id for c in await changes(db)] == ["7"]


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, service: object) -> None:
    from app.state import AppState

    state = service.state.qbs  # type: ignore[attr-defined]
    assert isinstance(state, AppState)
    body = b"[" + b" " * state.settings.qbo.max_webhook_bytes + b"]"
    response = await deliver(client, body)
    assert response.status_code == 413


async def test_count_matches_rows(db: SessionFactory) -> None:
    async with db() as session:
        assert (
            await session.execute(select(func.count()).select_from(QboChange))
        ).scalar_one() == 0


def rejected_count() -> float:
    labels = {"source": "qbo", "type": "change", "outcome": "rejected"}
    return metrics.REGISTRY.get_sample_value("qbs_events_received_total", labels) or 0.0


async def test_entry_longer_than_its_column_is_refused_alone(
    client: httpx.AsyncClient, db: SessionFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Smaller holes (item 10): a signed entry whose entity name or id is longer than its column
    is refused alone, logged and counted; the other entries of the delivery are stored."""
    at = "2026-01-01T00:00:00Z"
    entities = [
        {"name": "Customer", "id": "7", "operation": "Update", "lastUpdated": at},
        {"name": "N" * 65, "id": "8", "operation": "Update", "lastUpdated": at},
        {"name": "Customer", "id": "9" * 65, "operation": "Update", "lastUpdated": at},
        {"name": "Customer", "id": "10", "operation": "Merge", "deletedId": "1" * 65},
    ]
    body = json.dumps(
        {
            "eventNotifications": [
                {"realmId": "42", "dataChangeEvent": {"entities": entities}},
                {"realmId": "4" * 65, "dataChangeEvent": {"entities": entities[:1]}},
            ]
        }
    ).encode()
    before = rejected_count()
    response = await deliver(client, body)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 4)
    assert [(c.realm_id, c.entity, c.entity_id) for c in await changes(db)] == [
        ("42", "Customer", "7")
    ]
    assert rejected_count() - before == 4
    logged = capsys.readouterr().out
    assert logged.count("qbo.webhook.entry_rejected") == 4
    assert "id is too long (65 characters, at most 64)" in logged


async def test_cloudevent_longer_than_its_column_is_refused_alone(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    """Smaller holes (item 10): the same for CloudEvents (entity in `type`, ids in extensions)."""

    def event(n: int, **fields: str) -> dict[str, str]:
        base = {
            "specversion": "1.0",
            "id": f"evt-{n}",
            "source": "intuit.x",
            "type": "qbo.customer.updated.v1",
            "time": "2026-03-17T16:19:17Z",
            "intuitentityid": str(n),
            "intuitaccountid": "9341455",
        }
        return {**base, **fields}

    body = json.dumps(
        [
            event(1),
            event(2, type=f"qbo.{'x' * 65}.updated.v1"),
            event(3, intuitentityid="3" * 65),
            event(4, intuitaccountid="4" * 65),
        ]
    ).encode()
    response = await deliver(client, body)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 3)
    assert [c.entity_id for c in await changes(db)] == ["1"]


def flood(realm: str, count: int, entities: tuple[str, ...] = ("Customer", "Invoice")) -> bytes:
    """A legacy delivery of `count` changes (about 100 bytes each), entities taking turns."""
    rows = [
        {
            "name": entities[n % len(entities)],
            "id": str(1000 + n),
            "operation": "Update",
            "lastUpdated": "2026-12-04T10:00:00.000Z",
        }
        for n in range(count)
    ]
    return json.dumps(
        {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": rows}}]}
    ).encode()


async def queued_work(factory: SessionFactory) -> list[tuple[str, dict[str, object]]]:
    async with factory() as session:
        result = await session.execute(
            text("SELECT task_name, args FROM procrastinate_jobs WHERE status = 'todo' ORDER BY id")
        )
        return [(task, dict(args)) for task, args in result.all()]


async def test_large_delivery_is_stored_once_and_queued(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    """Failure mode 6 (webhook flood): a 5,000-change delivery (about 0.5 MB) is answered with
    every change stored once and its work queued; a redelivery stores and queues nothing more.
    The answer time is measured by bench/webhook_flood.py, not asserted here."""
    body = flood("9130350000000001", 5000)
    assert 400_000 < len(body) < 700_000
    response = await deliver(client, body)
    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["duplicates"]) == (5000, 0)
    stored = await changes(db)
    assert len({(c.entity, c.entity_id) for c in stored}) == len(stored) == 5000
    assert {c.state for c in stored} == {InboundState.PENDING}
    # Queued as one batch job per realm and entity, each covering that entity's changes.
    work = await queued_work(db)
    assert sorted((task, args["entity"]) for task, args in work) == [
        (names.QBO_BATCH_TASK, "Customer"),
        (names.QBO_BATCH_TASK, "Invoice"),
    ]

    again = await deliver(client, body)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 5000)
    assert len(await changes(db)) == 5000
    assert len(await queued_work(db)) == 2
