"""`GET /openapi.json` documents every callback the CRM receives as an OpenAPI 3.1 webhook.

The schemas come from the callback models, so the check is against what is really sent: every
captured callback (tests/integrations/crm/callback_examples.json), in its signed envelope,
matches the webhook of its type, and a key nobody declared does not.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from app.integrations.crm.callbacks import encode_body
from tests.api.test_openapi import _app, _validator

EXAMPLES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "integrations" / "crm" / "callback_examples.json"
    ).read_text()
)["callbacks"]
TYPES = [
    "contact.upsert",
    "invoice.import",
    "review_request.send",
    "connection.status",
    "sync.result",
]


@pytest.fixture(scope="module")
async def document() -> dict[str, Any]:
    # Served over HTTP like a CRM developer would fetch it.
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _envelope(example: dict[str, Any]) -> Any:
    body = encode_body(
        str(uuid.uuid4()), example["type"], "loc-1", example["data"], datetime.now(UTC)
    )
    return json.loads(body)


def _webhook(document: dict[str, Any], type_: str) -> jsonschema_rs.Validator:
    content = document["webhooks"][type_]["post"]["requestBody"]["content"]
    return _validator(document, content["application/json"]["schema"])  # type: ignore[no-any-return]


def test_each_callback_type_is_a_webhook(document: dict[str, Any]) -> None:
    assert sorted(document["webhooks"]) == sorted(TYPES)
    for type_ in TYPES:
        operation = document["webhooks"][type_]["post"]
        assert operation["summary"] == type_
        assert operation["description"].startswith("Sent when: ")
        assert [p["name"] for p in operation["parameters"]] == ["X-Signature"]
        assert "2XX" in operation["responses"]


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{n}-{e['type']}" for n, e in enumerate(EXAMPLES)]
)
def test_every_captured_callback_matches_its_webhook(
    document: dict[str, Any], example: dict[str, Any]
) -> None:
    _webhook(document, example["type"]).validate(_envelope(example))


def test_another_type_s_data_or_an_undeclared_key_does_not(document: dict[str, Any]) -> None:
    status = next(e for e in EXAMPLES if e["type"] == "connection.status")
    result = next(e for e in EXAMPLES if e["type"] == "sync.result")
    validator = _webhook(document, "sync.result")
    assert not validator.is_valid(_envelope({**status, "type": "sync.result"}))
    extra = {**result, "data": {**result["data"], "total": "19.99"}}
    assert not validator.is_valid(_envelope(extra))
    missing = {**result, "data": {k: v for k, v in result["data"].items() if k != "qbo_id"}}
    assert not validator.is_valid(_envelope(missing))
