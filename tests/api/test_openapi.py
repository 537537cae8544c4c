"""The OpenAPI document says what the service does: bodies, security, answers, error shape.

No database: the document is built from the routes alone. Where the service has a parser of its
own (CRM events, QBO webhooks, error handlers), the document is checked against that parser and
those handlers, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from app.api.auth import AuthError
from app.api.body import BodyTooLargeError
from app.api.errors import register_error_handlers
from app.api.openapi import install_openapi
from app.config import CrmSettings, QboSettings, Settings
from app.integrations.crm.schemas import EventValidationError, FieldError, parse_event
from app.integrations.crm.signatures import SignatureError
from app.integrations.quickbooks.webhooks import parse_notification
from app.main import create_app
from qbo_emulator.webhooks import Event, cloudevents_body, legacy_body
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN
from tests.fixtures.events import contact_event, invoice_event, payment_event
from tests.integrations.quickbooks.test_webhooks import BLOG_SAMPLE, LEGACY_BODY, MERGED_SAMPLE

JSON = "application/json"


def _app() -> FastAPI:
    settings = Settings(
        DATABASE_URL="postgresql://unused@127.0.0.1:1/unused",
        QBS_DATA_DIR=Path("unused"),
        TOKEN_ENCRYPTION_KEYS=FERNET_KEY,
        crm=CrmSettings(signing_secret=SecretStr(SIGNING_SECRET), api_key=SecretStr(API_KEY)),
        qbo=QboSettings(webhook_verifier_token=SecretStr(VERIFIER_TOKEN)),
    )
    app = create_app(settings, run_worker=False)
    install_openapi(app)  # harmless twice once create_app installs it itself
    return app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items()]


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator for `schema`, its #/components/... references resolved, formats checked."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    root["components"] = document["components"]
    return jsonschema_rs.validator_for(root, validate_formats=True)


def _request_body(document: dict[str, Any], path: str, media: str = JSON) -> Any:
    body = document["paths"][path]["post"]["requestBody"]["content"][media]
    return _validator(document, body["schema"])


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


async def test_served_at_openapi_json_built_once() -> None:
    app = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        served = (await http.get("/openapi.json")).json()
    first = app.openapi()
    assert served == first
    assert app.openapi() is first  # cached, not rebuilt per request
    assert "CrmSignature" in served["components"]["securitySchemes"]


def test_each_route_family_declares_its_credential(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert (schemes["CrmApiKey"]["type"], schemes["CrmApiKey"]["scheme"]) == ("http", "bearer")
    for name, header in (("CrmSignature", "X-Signature"), ("IntuitSignature", "intuit-signature")):
        assert (schemes[name]["in"], schemes[name]["name"]) == ("header", header)
    expected = {"/v1/crm/events": "CrmSignature", "/v1/qbo/webhooks": "IntuitSignature"}
    for method, path, operation in _operations(document):
        scheme = "CrmApiKey" if path.startswith("/v1/connections") else expected.get(path)
        assert operation.get("security") == ([{scheme: []}] if scheme else None), (method, path)


def test_errors_are_declared_in_the_service_s_shape(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(document)
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/readyz":
                continue
            content = response["content"]
            # The card and OAuth pages answer HTML by design; everything else the error body.
            expected = {"text/html"} if "text/html" in content else {JSON}
            assert set(content) == expected, (method, path, status)
            if JSON in content:
                assert content[JSON]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_redirects_and_pages_are_declared(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, item in paths.items():
        if path.startswith("/v1/card/"):
            # The buttons answer a 303 back to the card, never the 200 FastAPI assumes.
            assert {"303", "403"} <= set(item["post"]["responses"]), path
            assert "200" not in item["post"]["responses"], path
    assert "403" in paths["/v1/card"]["get"]["responses"]
    for page in ("/v1/oauth/connect", "/v1/oauth/callback"):
        assert "text/html" in paths[page]["get"]["responses"]["400"]["content"]
    assert "401" in paths["/v1/connections/{location_id}/sync-log"]["get"]["responses"]
    assert "404" in paths["/v1/connections/{location_id}/sync-log"]["get"]["responses"]


async def test_declared_body_refusals_happen_before_any_credential_check(
    document: dict[str, Any],
) -> None:
    """The 400 and 413 the document adds to the connections API, as the service answers them
    (both come before the API key is looked at, so no database or key is needed here)."""
    create = document["paths"]["/v1/connections"]["post"]["responses"]
    error_body = _validator(document, {"$ref": "#/components/schemas/ErrorBody"})
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        headers = {"Content-Type": JSON}
        unreadable = await http.post("/v1/connections", content=b'{"a": "\xff"}', headers=headers)
        too_large = await http.post("/v1/connections", content=b" " * 70_000, headers=headers)
    for response in (unreadable, too_large):
        assert str(response.status_code) in create, response.status_code
        error_body.validate(response.json())
    assert (unreadable.status_code, too_large.status_code) == (400, 413)


def _set(original: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    # A copy: the fixtures' events share their line items and contact between calls.
    event = copy.deepcopy(original)
    target = event
    *parents, last = dotted.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return event


# (field, value): the schema and parse_event must agree on each, accepted or refused.
EVENT_CASES = [
    ("data.totals.total", "115.42"),
    ("data.totals.total", 115.42),
    ("data.totals.total", "115.4200"),
    ("data.totals.total", "115.425"),
    ("data.totals.total", "-1"),
    ("data.totals.total", "1e3"),
    ("data.totals.total", True),
    ("data.line_items.0.unit_price", "0.123456"),
    ("data.line_items.0.unit_price", "0.1234567"),
    ("data.line_items.0.quantity", 0),
    ("data.line_items.0.quantity", "0.000"),
    ("data.line_items.0.quantity", "0.5"),
    ("data.line_items.0.taxes.0.rate", 100.5),
    ("data.currency", "usd"),
    ("data.contact.email", "n/a"),
    ("data.contact.email", "ann@"),
    ("data.contact.email", " ann@example.com "),
    ("data.contact.email", ""),
    ("data.issue_date", "2026-02-30"),
    ("data.issue_date", "2026-11-01T00:00:00Z"),
    ("occurred_at", "2026-11-01T09:05:00"),
    ("occurred_at", "2026-11-01t09:05:00.123456789z"),
    ("occurred_at", "2026-11-01T09:05:00.1234567890Z"),
    ("type", "invoice.deleted"),
    ("unknown_envelope_key", 1),
]


@pytest.mark.parametrize(("field", "value"), EVENT_CASES, ids=lambda v: repr(v))
def test_the_event_schema_accepts_what_the_service_accepts(
    document: dict[str, Any], field: str, value: Any
) -> None:
    event = _set(invoice_event(), field, value)
    try:
        parse_event(json.dumps(event).encode())
        service_accepts = True
    except EventValidationError:
        service_accepts = False
    assert _request_body(document, "/v1/crm/events").is_valid(event) is service_accepts


@pytest.mark.parametrize("event", [invoice_event(), payment_event(), contact_event()])
def test_real_events_of_every_kind_match_the_event_schema(
    document: dict[str, Any], event: dict[str, Any]
) -> None:
    _request_body(document, "/v1/crm/events").validate(event)


def _emulator_events() -> list[Event]:
    update = Event("9130", "Customer", "58", "Update", 1.7e9, "e1")
    merge = Event("9130", "Customer", "58", "Merge", 1.7e9, "e2", {"deletedid": "27"})
    return [update, merge, Event("9130", "Invoice", "7", "Void", 1.7e9, "e3")]


WEBHOOK_BODIES = [
    LEGACY_BODY,
    BLOG_SAMPLE,
    MERGED_SAMPLE,
    legacy_body(_emulator_events()),
    cloudevents_body(_emulator_events(), "intuit.emulator"),
]


@pytest.mark.parametrize("body", WEBHOOK_BODIES)
def test_intuit_s_webhooks_match_the_webhook_schema(document: dict[str, Any], body: bytes) -> None:
    for media in (JSON, "application/cloudevents+json"):
        _request_body(document, "/v1/qbo/webhooks", media).validate(json.loads(body))
    parsed = parse_notification(body)
    # And the service reads all of it.
    assert parsed.changes
    assert not parsed.rejected


def test_decimal_fields_declare_a_decimal_string_or_a_number(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    money = schemas["InvoiceTotals"]["properties"]["total"]
    price = schemas["LineItem"]["properties"]["unit_price"]
    for schema, places in ((money, 2), (price, 6)):
        number, text = schema["anyOf"]
        assert (number["type"], number["minimum"], text["type"]) == ("number", 0, "string")
        assert f"{{0,{places}}}" in text["pattern"]
    # Every decimal of the catalogue got a pattern, not just the two looked at above.
    for match in _decimal_unions(schemas):
        assert "pattern" in match[1], match


def _decimal_unions(node: Any) -> list[Any]:
    if isinstance(node, list):
        return [found for child in node for found in _decimal_unions(child)]
    if not isinstance(node, dict):
        return []
    found = [v for k, v in node.items() if k == "anyOf" and _is_number_or_string(v)]
    return found + [f for v in node.values() for f in _decimal_unions(v)]


def _is_number_or_string(branches: list[Any]) -> bool:
    return [branch.get("type") for branch in branches] == ["number", "string"]


def _failing_app() -> FastAPI:
    """The real error handlers behind routes that raise what the real routes raise."""
    app = FastAPI()
    register_error_handlers(app)
    errors: dict[str, Exception] = {
        "signature": SignatureError("stale", "X-Signature timestamp is too old"),
        "event": EventValidationError([FieldError("data.totals.total", "bad")]),
        "auth": AuthError("missing bearer token"),
        "large": BodyTooLargeError(10),
        "database": OperationalError("SELECT 1", {}, Exception("down")),
    }
    for name, error in errors.items():
        app.add_api_route(f"/{name}", _raising(error))

    async def typed(number: int) -> int:  # a non-number gets FastAPI's RequestValidationError
        return number

    app.add_api_route("/typed", typed)
    return app


def _raising(error: Exception) -> Any:
    async def fail() -> None:
        raise error

    return fail


async def test_error_answers_match_the_declared_error_body(document: dict[str, Any]) -> None:
    error_body = _validator(document, {"$ref": "#/components/schemas/ErrorBody"})
    transport = httpx.ASGITransport(app=_failing_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for path in ("/signature", "/event", "/auth", "/large", "/database", "/typed?number=x"):
            response = await http.get(path)
            assert response.status_code >= 400, path
            error_body.validate(response.json())
