"""Whatever a caller sends, the answer is a deliberate status, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.events import intuit_headers, invoice_event, signed_headers

pytestmark = pytest.mark.usefixtures("location")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def mutate(event: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


FIELDS = [
    ["id"],
    ["type"],
    ["occurred_at"],
    ["location_id"],
    ["data"],
    ["data", "totals"],
    ["data", "line_items"],
    ["data", "contact"],
    ["data", "issue_date"],
    ["data", "currency"],
    ["data", "discount"],
]

ALLOWED = {200, 202, 404, 409, 413, 422}
quick = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@quick
@given(field=st.sampled_from(FIELDS), value=json_values)
async def test_any_field_value_gets_a_deliberate_answer(
    client: httpx.AsyncClient, field: list[str], value: Any
) -> None:
    body = json.dumps(mutate(invoice_event(), field, value)).encode()
    response = await client.post("/v1/crm/events", content=body, headers=signed_headers(body))
    assert response.status_code in ALLOWED, response.text


@quick
@given(body=st.binary(max_size=300))
async def test_any_signed_bytes_get_a_deliberate_answer(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post("/v1/crm/events", content=body, headers=signed_headers(body))
    assert response.status_code in ALLOWED
    webhook = await client.post("/v1/qbo/webhooks", content=body, headers=intuit_headers(body))
    assert webhook.status_code == 200


@quick
@given(document=json_values)
async def test_any_signed_json_webhook_is_acknowledged(
    client: httpx.AsyncClient, document: Any
) -> None:
    body = json.dumps(document).encode()
    response = await client.post("/v1/qbo/webhooks", content=body, headers=intuit_headers(body))
    assert response.status_code == 200


@quick
@given(document=json_values)
async def test_any_connection_request_gets_a_deliberate_answer(
    client: httpx.AsyncClient, document: Any
) -> None:
    from tests.fixtures.app import API_KEY

    response = await client.post(
        "/v1/connections",
        content=json.dumps(document).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code in {201, 422}, response.text


async def test_nul_characters_are_refused_everywhere(client: httpx.AsyncClient) -> None:
    from tests.fixtures.app import API_KEY

    auth = {"Authorization": f"Bearer {API_KEY}"}
    event = invoice_event()
    event["location_id"] = "\x00"
    body = json.dumps(event).encode()
    response = await client.post("/v1/crm/events", content=body, headers=signed_headers(body))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "location_id"
    connection = await client.post(
        "/v1/connections",
        json={"location_id": "a\x00", "return_url": "http://127.0.0.1/x"},
        headers=auth,
    )
    assert connection.status_code == 422
    assert (await client.get("/v1/connections/%00", headers=auth)).status_code == 422
    webhook = json.dumps(
        {"eventNotifications": [{"realmId": "1\x00", "dataChangeEvent": {"entities": []}}]}
    ).encode()
    answer = await client.post("/v1/qbo/webhooks", content=webhook, headers=intuit_headers(webhook))
    assert answer.status_code == 200
