"""Schemathesis against every operation of the service's own OpenAPI document, over real HTTP.

The service runs with the emulator behind it and a location connected through the real OAuth
flow. Every request carries what a real caller would: the CRM's bearer key, an X-Signature for
CRM events, an intuit-signature for QBO webhooks (signed over the exact bytes sent). Each answer
must not be a 5xx and must match what the document declares for its status.

The document (app/api/openapi.py) declares the signed bodies, the credentials and every answer
in the service's error shape, so the fuzzing runs against it as served. The only changes made
here are the likely values of the identifiers (the connected location and company, a valid
card link), so generated requests get past the first 404/403, and small webhook batches.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import CrmSettings, QboSettings, Settings
from app.db.provision import Database
from app.integrations.crm.signatures import SIGNATURE_HEADER, sign
from app.main import create_app
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.config import EmulatorConfig
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN
from tests.fixtures.connect import browse, start_connect
from tests.fixtures.db import _TABLES
from tests.fixtures.events import invoice_event
from tests.fixtures.live import free_port, live_settings, serve
from tests.resilience.sizes import FULL

LOCATION = "loc_st"
JSON = "application/json"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Examples per operation: about a minute for the whole module on CI, far more with FULL.
EXAMPLES = 400 if FULL else 50
CHECKS = [not_a_server_error, response_schema_conformance]


def _document() -> dict[str, Any]:
    """The OpenAPI document exactly as the service serves it at /openapi.json."""
    settings = Settings(
        DATABASE_URL="postgresql://unused@127.0.0.1:1/unused",
        QBS_DATA_DIR=Path("unused"),
        TOKEN_ENCRYPTION_KEYS=FERNET_KEY,
        crm=CrmSettings(signing_secret=SecretStr(SIGNING_SECRET), api_key=SecretStr(API_KEY)),
        qbo=QboSettings(webhook_verifier_token=SecretStr(VERIFIER_TOKEN)),
    )
    return create_app(settings, run_worker=False).openapi()


DOCUMENT = _document()
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]

# What the service really requires of callers (the document must say so, see the last test).
API_KEY_PREFIXES = ("/v1/connections",)
SIGNED_PATHS = ("/v1/crm/events", "/v1/qbo/webhooks")
CARD_FORMS = tuple(path for _, path in OPERATIONS if path.startswith("/v1/card/"))


def completed_document(realm: str, card_token: str) -> dict[str, Any]:
    """The served document with likely identifiers (see the module docstring)."""
    document = copy.deepcopy(DOCUMENT)
    schemas = document["components"]["schemas"]
    for definition in schemas.values():
        if "location_id" in definition.get("properties", {}):
            # Mostly the connected location, so most events reach the intake instead of a 404.
            definition["properties"]["location_id"] = {"enum": [LOCATION, LOCATION, "loc_unknown"]}
    # Mostly the connected company, so most changes are stored rather than dropped.
    realms = {"enum": [realm, realm, "9999999999"]}
    notification = schemas["QboEventNotification"]["properties"]
    notification["realmId"] = realms
    schemas["QboCloudEvent"]["properties"]["intuitaccountid"] = realms
    # Small batches: a few changes exercise the batch handling as well as a hundred would.
    notification["dataChangeEvent"]["properties"]["entities"]["maxItems"] = 3
    schemas["QboLegacyWebhook"]["properties"]["eventNotifications"]["maxItems"] = 3
    paths = document["paths"]
    for media in paths["/v1/qbo/webhooks"]["post"]["requestBody"]["content"].values():
        media["schema"]["oneOf"][1]["maxItems"] = 3  # the CloudEvents array
    for path in CARD_FORMS:
        body = paths[path]["post"]["requestBody"]["content"]
        reference = body["application/x-www-form-urlencoded"]["schema"]["$ref"]
        form = schemas[reference.rsplit("/", 1)[1]]
        form["properties"]["token"] = {"enum": [card_token, card_token, "forged"]}
        form["required"] = sorted({*form.get("required", []), "token"})
    return document


class CallerAuth(requests.auth.AuthBase):
    """What the CRM backend and Intuit add to their requests, over the exact bytes sent."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raise TypeError(f"a streamed body cannot be signed: {type(body).__name__}")
        path = urlsplit(request.url or "").path
        if path == "/v1/crm/events":
            request.headers[SIGNATURE_HEADER] = sign(SIGNING_SECRET, raw, int(time.time()))
        elif path == "/v1/qbo/webhooks":
            digest = hmac.new(VERIFIER_TOKEN.encode(), raw, hashlib.sha256).digest()
            request.headers["intuit-signature"] = base64.b64encode(digest).decode()
        elif path.startswith(API_KEY_PREFIXES):
            request.headers["Authorization"] = f"Bearer {API_KEY}"
        return request


@dataclass
class Api:
    url: str
    schema: Any
    realm: str
    card_token: str
    session: requests.Session


@pytest.fixture(scope="module")
async def api(
    engine: AsyncEngine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """Emulator + service over HTTP with LOCATION connected; one service for every operation's
    examples, so the tables are emptied here (the per-test `db` fixture cannot be used)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    emulator_port, port = free_port(), free_port()
    emulator_config = EmulatorConfig(
        verifier_token=VERIFIER_TOKEN,
        auto_consent=True,
        base_url=f"http://127.0.0.1:{emulator_port}",
    )
    with serve(create_emulator(emulator_config), emulator_port) as emulator_url:
        settings = live_settings(database_url, tmp_path_factory.mktemp("st"), emulator_url, port)
        app = create_app(settings, run_worker=False, database=Database(database_url))
        with serve(app, port) as url:
            visited = await browse((await start_connect(url, LOCATION))["connect_url"])
            assert "status=connected" in visited[-1], visited
            async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
                realm = (await http.get(f"/v1/connections/{LOCATION}")).json()["realm_id"]
                link = (await http.post(f"/v1/connections/{LOCATION}/card-link")).json()
            token = parse_qs(urlsplit(link["url"]).query)["token"][0]
            schema = schemathesis.openapi.from_dict(completed_document(realm, token))
            with requests.Session() as session:
                session.auth = CallerAuth()
                yield Api(url, schema, realm, token, session)


def strategy(api: Api, method: str, path: str) -> st.SearchStrategy[Any]:
    """Valid and invalid requests; identifiers also fixed to ones the service knows."""
    operation = api.schema[path][method]
    params = {p["name"] for p in DOCUMENT["paths"][path][method.lower()].get("parameters", [])}
    fixed: list[dict[str, Any]] = [{}]
    if "location_id" in params:
        fixed.append({"path_parameters": {"location_id": LOCATION}})
    if path == "/v1/card":
        fixed.append({"query": {"token": api.card_token}})
    return st.one_of(
        *(
            operation.as_strategy(mode, **options)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for options in fixed
        )
    )


def known_good(api: Api, method: str, path: str) -> list[Any]:
    """Requests that must get past authentication, so a run that only ever met a 401/403/404
    (a broken signature, a missing key) cannot pass unnoticed."""
    operation = api.schema[path][method]
    if path == "/v1/crm/events":
        event = invoice_event("evt_schemathesis_1", created_at="2099-01-01T00:00:00Z")
        return [operation.Case(body={**event, "location_id": LOCATION}, media_type=JSON)]
    if path == "/v1/qbo/webhooks":
        change = {"name": "Customer", "id": "1", "operation": "Update"}
        body = {
            "eventNotifications": [
                {"realmId": api.realm, "dataChangeEvent": {"entities": [change]}}
            ]
        }
        return [operation.Case(body=body, media_type=JSON)]
    if path == "/v1/card":
        return [operation.Case(query={"token": api.card_token})]
    return []


# What each route answers a request that passed authentication (the non-vacuity check).
PASSED = {
    "/v1/crm/events": {200, 202},
    "/v1/qbo/webhooks": {200},
    "/v1/card": {200},
}


def _id(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
def test_no_5xx_and_answers_match_the_document(api: Api, operation: tuple[str, str]) -> None:
    method, path = operation
    statuses: list[int] = []

    def check(case: Any) -> None:
        # Redirects (OAuth, card buttons) are the answer under test, not something to follow.
        response = case.call(
            base_url=api.url, session=api.session, allow_redirects=False, timeout=30
        )
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    for case in known_good(api, method, path):
        check(case)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not FULL,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy(api, method, path))
    def fuzz(case: Any) -> None:
        check(case)

    fuzz()
    if path.startswith(API_KEY_PREFIXES) or path in SIGNED_PATHS:
        assert 401 not in statuses, "the bearer key or signature was not accepted"
    if path in PASSED:
        assert PASSED[path] & set(statuses), f"nothing got past the checks: {statuses}"


def test_the_document_declares_what_the_service_does() -> None:
    """What a client generated from /openapi.json needs to know and is not told."""
    missing = []
    paths = DOCUMENT["paths"]
    for path in SIGNED_PATHS:
        if "requestBody" not in paths[path]["post"]:
            missing.append(f"POST {path}: no requestBody (the event/notification schema)")
    if not DOCUMENT.get("components", {}).get("securitySchemes"):
        missing.append("no securitySchemes (bearer CRM_API_KEY, X-Signature, intuit-signature)")
    for path, item in paths.items():
        for method, spec in item.items():
            responses = spec.get("responses", {})
            lacking = sorted(expected_statuses(path) - set(responses))
            if lacking:
                missing.append(f"{method.upper()} {path}: undeclared {', '.join(lacking)}")
            declared_422 = responses.get("422", {}).get("content", {}).get(JSON, {})
            if declared_422.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                missing.append(
                    f"{method.upper()} {path}: 422 declared as FastAPI's HTTPValidationError "
                    '{"detail": [...]}, but the service answers {"error", "detail", "errors"}'
                )
    assert not missing, "\n".join(missing)


def expected_statuses(path: str) -> set[str]:
    """Answers each route gives in normal use (see app/api/routes) that it must declare."""
    if path.startswith(API_KEY_PREFIXES):
        return {"401"}
    if path in CARD_FORMS:
        return {"303", "403"}
    if path == "/v1/card":
        return {"403"}
    if path in ("/v1/oauth/connect", "/v1/oauth/callback"):
        return {"400"}
    return set()
