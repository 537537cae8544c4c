"""The CRM intake's fast path (app/api/fast_intake.py): the answers a client sees are the ones the
FastAPI route gives, with the request id and log line the skipped middleware would add, and an
error is met once (verified, counted and stored once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from structlog.testing import capture_logs

from app import metrics
from app.db.session import SessionFactory
from tests.api.test_crm_events import counts
from tests.fixtures.events import PostEvent, encode, invoice_event, signed_headers

pytestmark = pytest.mark.usefixtures("location")


def received(outcome: str, type_: str = "invoice.sent") -> float:
    labels = {"source": "crm", "type": type_, "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("qbs_events_received_total", labels) or 0.0


async def test_accepted_answer_has_the_request_id_and_one_log_line(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    body = encode(invoice_event())
    headers = {**signed_headers(body), "X-Request-ID": "crm-req-42"}
    before = received("accepted")
    with capture_logs() as logs:
        response = await client.post("/v1/crm/events", content=body, headers=headers)
    assert response.status_code == 202
    assert response.json() == {"id": "evt_inv_1", "status": "accepted"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "crm-req-42"
    requests = [line for line in logs if line["event"] == "http.request"]
    assert [(line["path"], line["status"]) for line in requests] == [("/v1/crm/events", 202)]
    stored = [line for line in logs if line["event"] == "crm.event.received"]
    assert [line["outcome"] for line in stored] == ["accepted"]
    assert received("accepted") == before + 1
    assert await counts(db) == (1, 1)


async def test_generated_request_id_when_none_is_sent(post_event: PostEvent) -> None:
    first = await post_event(invoice_event())
    again = await post_event(invoice_event())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"id": "evt_inv_1", "status": "duplicate"}
    ids = {first.headers["x-request-id"], again.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(len(value) == 32 for value in ids)


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        (lambda body: body.replace(b"115.42", b"915.42"), 401),  # signed another body
        (lambda body: body.replace(b'"evt_inv_1"', b"12"), 422),  # invalid, signed
        (lambda body: body.replace(b'"loc_1"', b'"loc_nobody"'), 404),  # unknown location
    ],
)
async def test_an_error_is_answered_by_the_handlers_and_counted_once(
    client: httpx.AsyncClient, db: SessionFactory, tamper: Callable[[bytes], bytes], status: int
) -> None:
    body = encode(invoice_event())
    changed = tamper(body)
    headers = signed_headers(body if status == 401 else changed)
    before = received("rejected", "other")
    with capture_logs() as logs:
        response = await client.post(
            "/v1/crm/events", content=changed, headers={**headers, "X-Request-ID": "r-1"}
        )
    assert response.status_code == status
    assert set(response.json()) >= {"error", "detail"}
    assert response.headers["x-request-id"] == "r-1"
    assert received("rejected", "other") == before + 1
    requests = [line for line in logs if line["event"] == "http.request"]
    assert [line["status"] for line in requests] == [status]
    assert await counts(db) == (0, 0)


async def test_a_body_over_the_limit_sent_without_a_length_is_413(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 8192

    response = await client.post(
        "/v1/crm/events", content=chunks(), headers={"X-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert await counts(db) == (0, 0)
