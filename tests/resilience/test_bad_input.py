"""Hostile and broken input, mostly over real HTTP: every answer is a deliberate 4xx (or the
documented acknowledgement of a signed webhook), never a 5xx, nothing is stored, and the service
keeps serving. Then injection through contact fields, through the real sync into the emulator.

tests/api/test_no_500.py already fuzzes small bodies in process (signed binary up to 300 bytes,
random JSON values, NUL characters) and tests/api/test_crm_events.py the 413 of an oversized or
streamed CRM event; tests/integrations/quickbooks/test_query.py proves the escaping of query
literals. This adds what those do not reach: a real socket (chunked uploads, a declared length
that never arrives), the webhook and connections routes, depth and encoding edge cases, and the
escaping seen end to end in what QuickBooks ends up holding.
"""

from __future__ import annotations

import copy
import json
import random
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db.session import SessionFactory
from app.models import CrmEvent, QboChange
from app.models.states import SyncState
from app.sync.mapping.customer_text import email_addresses
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.connect import AUTH
from tests.fixtures.events import intuit_headers, invoice_event, signed_headers
from tests.resilience.sizes import FULL

LOCATION = "loc_1"
# An upload far over any limit the service has (the CRM event limit is 256 KiB by default).
BIG = (64 if FULL else 8) * 1024 * 1024
CHUNK = 64 * 1024
JUNK_SEED = 20261121

Live = tuple[str, Settings]


# Helpers.


async def register(base: str, location: str = LOCATION) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{base}/v1/connections",
            json={"location_id": location, "return_url": "https://crm.example.com/done"},
            headers=AUTH,
        )
    assert answer.status_code == 201, answer.text


async def stored(db: SessionFactory) -> tuple[int, int]:
    """(CRM events, QBO changes) in the database."""
    async with db() as session:
        events = (await session.execute(select(func.count()).select_from(CrmEvent))).scalar_one()
        changes = (await session.execute(select(func.count()).select_from(QboChange))).scalar_one()
    return int(events), int(changes)


async def assert_still_serving(base: str, marker: str) -> None:
    """Readiness holds and a genuine event is still accepted after the junk."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/readyz")).status_code == 200
    answer = await post(base, invoice_event(f"evt_after_{marker}"))
    assert answer.status_code == 202, answer.text


def assert_json_rejection(response: httpx.Response, *allowed: int) -> None:
    """A deliberate 4xx with a JSON body saying what is wrong."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.status_code in allowed, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    assert response.json().get("detail"), response.text[:300]


def junk(size: int, seed: int = JUNK_SEED) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    """The body as a stream of unknown length: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def padded_event(size: int) -> bytes:
    """A well-formed event grown to `size` bytes with an ignored field (the body is valid)."""
    event = invoice_event("evt_padded")
    event["data"]["notes"] = ""
    base = len(json.dumps(event).encode())
    event["data"]["notes"] = "x" * max(0, size - base)
    return json.dumps(event).encode()


def padded_webhook(size: int) -> bytes:
    change = {"name": "Customer", "id": "1", "operation": "Update"}
    body = {
        "eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [change]}}],
        "padding": "",
    }
    body["padding"] = "x" * max(0, size - len(json.dumps(body).encode()))
    return json.dumps(body).encode()


def padded_connection(size: int) -> bytes:
    body = {"location_id": "loc_big", "return_url": "https://crm.example.com/done", "pad": ""}
    body["pad"] = "x" * max(0, size - len(json.dumps(body).encode()))
    return json.dumps(body).encode()


def request_for(route: str, body: bytes) -> tuple[str, str, dict[str, str]]:
    """(method, path, headers) a legitimate caller of `route` would send with `body`."""
    if route == "crm_event":
        return "POST", "/v1/crm/events", signed_headers(body)
    if route == "webhook":
        return "POST", "/v1/qbo/webhooks", intuit_headers(body)
    if route == "connection":
        return "POST", "/v1/connections", {**AUTH, "Content-Type": "application/json"}
    if route == "connection_patch":
        path = f"/v1/connections/{LOCATION}"
        return "PATCH", path, {**AUTH, "Content-Type": "application/json"}
    assert route == "card_form"
    return "POST", "/v1/card/retry", {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def base(live_service: Live) -> str:
    url, _ = live_service
    await register(url)
    return url


# Oversized bodies.

OVERSIZED = {
    # route: (body of BIG bytes, the statuses that refuse it cleanly)
    "crm_event": (padded_event, {413}),
    "webhook": (padded_webhook, {413}),
    "connection": (padded_connection, {413, 422}),
    "connection_patch": (padded_connection, {413, 422}),
}


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("route", sorted(OVERSIZED))
async def test_an_oversized_body_is_refused_and_the_service_keeps_serving(
    base: str, db: SessionFactory, route: str, framing: str
) -> None:
    build, allowed = OVERSIZED[route]
    body = build(BIG)
    method, path, headers = request_for(route, body)
    content: bytes | AsyncIterator[bytes] = body if framing == "content-length" else chunks(body)
    before = await stored(db)
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        response = await http.request(method, path, content=content, headers=headers)
    assert_json_rejection(response, *allowed)
    assert await stored(db) == before
    await assert_still_serving(base, f"{route}_{framing}")


def raw_answer(base: str, head: str, first_bytes: bytes, deadline_s: float) -> str:
    """Send a request head and the start of its body, then wait for an answer (status line and
    headers) without sending the rest. Returns '' when none came before the deadline."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=deadline_s) as sock:
        sock.sendall(head.encode() + first_bytes)
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except TimeoutError:
            return ""
    return received.decode("latin-1")


@pytest.mark.parametrize(
    "route",
    [
        "crm_event",
        "webhook",
        "connection",
        "card_form",
    ],
)
async def test_a_declared_oversized_body_is_refused_before_it_arrives(
    base: str, route: str
) -> None:
    """A client announcing 10 GB gets 413 at once; the service never waits to read it."""
    method, path, headers = request_for(route, b"{")
    head_lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 10000000000"]
    head_lines += [f"{name}: {value}" for name, value in headers.items()]
    head = "\r\n".join(head_lines) + "\r\n\r\n"
    # Generous: a server that refuses from the header answers in milliseconds; one that waits
    # for the body never answers at all.
    answer = raw_answer(base, head, b"{" + b" " * 1024, deadline_s=8)
    assert answer, f"no answer to {method} {path}: the service waits for the whole body"
    assert answer.startswith("HTTP/1.1 413"), answer.splitlines()[0]
    await assert_still_serving(base, f"declared_{route}")


# Depth, encodings, junk.


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def event_with_extra(extra: str, event_id: str) -> bytes:
    """A valid event whose data carries `extra` in an ignored field."""
    text = json.dumps(invoice_event(event_id))
    return (text[:-2] + ', "extra": ' + extra + "}}").encode()


@pytest.mark.parametrize("depth", [500, 900, 1000, 5000, 100_000])
async def test_deeply_nested_json_gets_a_deliberate_answer(
    base: str, db: SessionFactory, depth: int
) -> None:
    """Around Python's recursion limit and far beyond it, as the whole body or inside a field."""
    whole = nested(depth).encode()
    inner = event_with_extra(nested(depth), f"evt_deep_{depth}")
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for body in (whole, inner):
            event = await http.post("/v1/crm/events", content=body, headers=signed_headers(body))
            assert event.status_code in (202, 413, 422), event.text[:300]
            webhook = await http.post(
                "/v1/qbo/webhooks", content=body, headers=intuit_headers(body)
            )
            # Signed but unreadable: acknowledged so Intuit stops retrying (docs/design.md §2.2).
            assert webhook.status_code == 200, webhook.text[:300]
        connection = await http.post(
            "/v1/connections", content=whole, headers={**AUTH, "Content-Type": "application/json"}
        )
    # Bodies over the 64 KiB cap of the connections API get 413 before any parsing.
    assert_json_rejection(connection, *((413,) if len(whole) > 64 * 1024 else (400, 422)))
    _, changes = await stored(db)
    assert changes == 0
    await assert_still_serving(base, f"deep_{depth}")


@pytest.mark.slow
async def test_an_accepted_event_with_deep_nesting_is_synced_like_any_other(
    live_service: Live, qbo: Qbo, db: SessionFactory
) -> None:
    """Depth the intake accepts (in a field it ignores) must not trip the worker later."""
    base, _ = live_service
    accepted = []
    for n, depth in enumerate((300, 900)):
        payload = contact_invoice(n, f"deep{n}@x.com", "Deep", f"Nest{n}", "Services")
        text = json.dumps(payload)
        body = (text[:-2] + ', "extra": ' + nested(depth) + "}}").encode()
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post("/v1/crm/events", content=body, headers=signed_headers(body))
        assert answer.status_code in (202, 422), answer.text[:200]
        if answer.status_code == 202:
            accepted.append(payload["data"]["id"])
    assert accepted, "no nesting depth was accepted at all"
    await settle(db, timeout_s=60)
    results = await entries(db)
    assert {(e.crm_id, e.state) for e in results} == {(i, SyncState.SYNCED) for i in accepted}
    assert len(await qbo.all("Invoice")) == len(accepted)


async def test_a_non_utf8_event_or_request_is_refused(base: str, db: SessionFactory) -> None:
    latin1 = json.dumps(invoice_event("evt_latin1"), ensure_ascii=False).replace("Ann", "Ann\xe9")
    event = latin1.encode("latin-1")
    connection = '{"location_id": "caf\xe9", "return_url": "https://crm.example.com/x"}'
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.post("/v1/crm/events", content=event, headers=signed_headers(event))
        assert_json_rejection(answer, 422)
        webhook = await http.post("/v1/qbo/webhooks", content=event, headers=intuit_headers(event))
        assert webhook.json()["status"] == "unreadable"
        refused = await http.post(
            "/v1/connections",
            content=connection.encode("latin-1"),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_json_rejection(refused, 400, 422)
    assert await stored(db) == (0, 0)
    await assert_still_serving(base, "latin1")


LONE = "\ud800"  # a lone surrogate: valid JSON as "\ud800", not encodable as UTF-8


@pytest.mark.parametrize(
    "field",
    ["location_id", "id", "data.number", "data.contact.first_name", "data.line_items.0.name"],
)
@pytest.mark.usefixtures("location")
async def test_a_lone_surrogate_in_an_event_is_refused(
    client: httpx.AsyncClient, db: SessionFactory, field: str
) -> None:
    # A deep copy: the fixtures' contact and lines are shared module-level dicts.
    payload = copy.deepcopy(invoice_event(f"evt_lone_{field}"))
    target: Any = payload
    *parents, last = field.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = f"x{LONE}"
    body = json.dumps(payload).encode()  # ensure_ascii: the surrogate travels as \ud800
    answer = await client.post("/v1/crm/events", content=body, headers=signed_headers(body))
    assert_json_rejection(answer, 422)
    assert await stored(db) == (0, 0)


def legacy_change(realm: str = "123", entity_id: str = "1") -> dict[str, Any]:
    change = {"name": "Customer", "id": entity_id, "operation": "Update"}
    return {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [change]}}]}


def cloud_change(event_id: str = "evt-1", account: str = "123") -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "intuit.test",
            "type": "qbo.customer.updated.v1",
            "time": "2026-11-21T10:00:00Z",
            "intuitentityid": "1",
            "intuitaccountid": account,
            "data": {},
        }
    ]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(legacy_change(realm=f"1{LONE}"), id="legacy-realmId"),
        pytest.param(legacy_change(entity_id=f"1{LONE}"), id="legacy-entity-id"),
        pytest.param(cloud_change(event_id=f"e{LONE}"), id="cloudevents-id"),
        pytest.param(cloud_change(account=f"1{LONE}"), id="cloudevents-account"),
    ],
)
async def test_a_lone_surrogate_in_a_signed_webhook_is_acknowledged_not_a_500(
    client: httpx.AsyncClient, db: SessionFactory, document: Any
) -> None:
    # In process: the 500's exception then surfaces here, in this thread (see secret_scan's
    # note on CPython 3.11 formatting tracebacks in two threads at once).
    body = json.dumps(document).encode()
    answer = await client.post("/v1/qbo/webhooks", content=body, headers=intuit_headers(body))
    assert answer.status_code == 200, f"{answer.status_code}: {answer.text[:200]}"
    assert answer.json()["accepted"] == 0
    assert await stored(db) == (0, 0)


JUNK_ROUTES = {
    # route: statuses that refuse 256 KiB of random bytes cleanly
    "crm_event": {422},
    # Over the 64 KiB cap of the connections API: refused from the length, before the key.
    "connection": {413},
    "connection_patch": {413},
}


@pytest.mark.parametrize("route", sorted(JUNK_ROUTES))
async def test_binary_junk_is_refused(base: str, db: SessionFactory, route: str) -> None:
    body = junk(256 * 1024 - 1)
    method, path, headers = request_for(route, body)
    async with httpx.AsyncClient(base_url=base) as http:
        signed = await http.request(method, path, content=body, headers=headers)
        assert_json_rejection(signed, *JUNK_ROUTES[route])
        # The same junk without credentials: refused (the size cap may answer first).
        anonymous = await http.request(method, path, content=body)
        assert_json_rejection(anonymous, 401, 413)
    assert await stored(db) == (0, 0)
    await assert_still_serving(base, f"junk_{route}")


async def test_binary_junk_to_the_webhook_is_acknowledged_when_signed(
    base: str, db: SessionFactory
) -> None:
    body = junk(1024 * 1024)
    async with httpx.AsyncClient(base_url=base) as http:
        signed = await http.post("/v1/qbo/webhooks", content=body, headers=intuit_headers(body))
        assert signed.status_code == 200
        assert signed.json() == {"status": "unreadable", "accepted": 0, "duplicates": 0}
        anonymous = await http.post("/v1/qbo/webhooks", content=body)
        assert_json_rejection(anonymous, 401)
        card = await http.post(
            "/v1/card/retry",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        # 1 MiB is over the card forms' 64 KiB cap: refused from the declared length.
        assert card.status_code == 413, card.text[:200]
    assert await stored(db) == (0, 0)
    await assert_still_serving(base, "junk_webhook")


WRONG_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
]


@pytest.mark.parametrize("content_type", WRONG_TYPES)
async def test_wrong_content_types_are_answered_deliberately(
    base: str, db: SessionFactory, content_type: str
) -> None:
    """The signed routes judge the signed bytes, whatever the label says (a valid event or
    notification is taken, junk refused or, for Intuit, acknowledged as unreadable); the JSON
    API refuses what is not labelled JSON."""
    event = json.dumps(invoice_event(f"evt_type_{len(content_type)}")).encode()
    connection = json.dumps({"location_id": "loc_typed", "return_url": "https://crm.example.com/"})
    async with httpx.AsyncClient(base_url=base) as http:
        headers = signed_headers(event) | {"Content-Type": content_type}
        answer = await http.post("/v1/crm/events", content=event, headers=headers)
        assert answer.status_code in (202, 415), answer.text[:200]
        junk_body = b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--x--\r\n"
        headers = signed_headers(junk_body) | {"Content-Type": content_type}
        refused = await http.post("/v1/crm/events", content=junk_body, headers=headers)
        assert_json_rejection(refused, 415, 422)
        webhook = json.dumps(legacy_change()).encode()
        headers = intuit_headers(webhook) | {"Content-Type": content_type}
        acknowledged = await http.post("/v1/qbo/webhooks", content=webhook, headers=headers)
        assert acknowledged.status_code == 200, acknowledged.text[:200]
        headers = intuit_headers(junk_body) | {"Content-Type": content_type}
        unreadable = await http.post("/v1/qbo/webhooks", content=junk_body, headers=headers)
        assert unreadable.json()["status"] == "unreadable"
        typed = await http.post(
            "/v1/connections",
            content=connection.encode(),
            headers={**AUTH, "Content-Type": content_type},
        )
        assert_json_rejection(typed, 400, 415, 422)
        patch = await http.patch(
            f"/v1/connections/{LOCATION}",
            content=junk_body,
            headers={**AUTH, "Content-Type": content_type},
        )
        assert_json_rejection(patch, 400, 415, 422)
    await assert_still_serving(base, f"type_{len(content_type)}")


async def test_unparseable_requests_get_the_services_error_shape(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.post(
            "/v1/connections",
            content=nested(20_000).encode(),  # 40 KB: under the body cap, too deep to parse
            headers={**AUTH, "Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert set(answer.json()) >= {"error", "detail"}, answer.json()


# QBO query injection through contact fields, through the real sync.


@pytest.fixture
def qbo(emulator: str, connected_realm: str) -> Qbo:
    return Qbo(emulator, connected_realm)


EXISTING = [
    {"DisplayName": "Victim Person", "PrimaryEmailAddr": {"Address": "victim@x.com"}},
    {"DisplayName": "Single Backslash", "PrimaryEmailAddr": {"Address": "a\\b@x.com"}},
    {"DisplayName": "Plain Quote", "PrimaryEmailAddr": {"Address": "a'b@x.com"}},
    # The positive control: the contact "O'Brien@X.com" must match and update this one.
    {"DisplayName": "Pat O'Brien", "PrimaryEmailAddr": {"Address": "o'brien@x.com"}},
]

# (email, first name, last name, line name): none may match an existing customer or item.
HOSTILE = [
    ("x' OR 1=1 --@x.com", "Robert');", "DROP TABLE Customer;--", "Services' OR Name = 'Services"),
    ("a\\'b@x.com", 'Quote "Q"', "O'Hara", "Services"),
    ("%@x.com", "Percent", "100%", "100% \\ off"),
    ("a\\\\b@x.com", "Double", "Back\\\\slash", "Services"),
    ("victim@x.com' AND PrimaryEmailAddr = 'victim@x.com", "Victim", "Impostor", "Services"),
]


def contact_invoice(n: int, email: str, first: str, last: str, line: str) -> dict[str, Any]:
    contact = {
        "id": f"contact_inj_{n}",
        "email": email,
        "first_name": first,
        "last_name": last,
        "company_name": None,
        "phone": None,
        "address": None,
    }
    total = "10.00"
    totals = {
        "subtotal": total,
        "discount": "0.00",
        "tax": "0.00",
        "total": total,
        "amount_paid": "0.00",
        "amount_due": total,
    }
    return invoice_event(
        f"evt_inj_{n}",
        id=f"inv_inj_{n}",
        number=f"INJ-{n}",
        contact=contact,
        line_items=[{"name": line, "quantity": 1, "unit_price": total, "taxes": []}],
        discount=None,
        totals=totals,
        created_at="2099-01-01T00:00:00Z",
        updated_at="2099-01-01T00:00:00Z",
    )


@pytest.mark.slow
async def test_query_injection_through_contact_fields_changes_nothing_else(
    live_service: Live, qbo: Qbo, db: SessionFactory
) -> None:
    base, _ = live_service
    existing = [await qbo.create("Customer", body) for body in EXISTING]
    items_before = {item["Id"]: item for item in await qbo.all("Item")}
    events = [contact_invoice(n, *fields) for n, fields in enumerate(HOSTILE)]
    events.append(contact_invoice(len(HOSTILE), "O'Brien@X.com", "Pat", "O'Brien", "Services"))
    for payload in events:
        answer = await post(base, payload)
        assert answer.status_code == 202, answer.text
    await settle(db, timeout_s=90)

    results = await entries(db)
    assert [e.state for e in results] == [SyncState.SYNCED] * len(events), [
        (e.crm_id, e.message) for e in results if e.state is not SyncState.SYNCED
    ]
    customers = {c["Id"]: c for c in await qbo.all("Customer")}
    victim, single, plain, obrien = (customers[c["Id"]] for c in existing)
    for before, after in zip(existing[:3], (victim, single, plain), strict=True):
        assert after == before, f"{before['DisplayName']} was changed"
    # The control: matching by email works at all (case-insensitive, with a quote in it).
    assert obrien["SyncToken"] != existing[3]["SyncToken"]
    assert obrien["PrimaryEmailAddr"]["Address"] == "O'Brien@X.com"

    created = [c for id_, c in customers.items() if id_ not in {e["Id"] for e in existing}]
    assert len(created) == len(HOSTILE)
    for email, first, last, _ in HOSTILE:
        [customer] = [c for c in created if c["DisplayName"] == f"{first} {last}"]
        assert (customer["GivenName"], customer["FamilyName"]) == (first, last)
        # What is not an address is left out (with a note), never sent into a query as is.
        sent, _ = email_addresses(email)
        assert customer.get("PrimaryEmailAddr", {}).get("Address") == sent

    items_after = {item["Id"]: item for item in await qbo.all("Item")}
    for id_, item in items_before.items():
        assert items_after[id_] == item, f"item {item['Name']} was changed"
    new_items = {item["Name"] for id_, item in items_after.items() if id_ not in items_before}
    assert new_items == {"Services' OR Name = 'Services", "100% \\ off"}
    invoices = await qbo.all("Invoice")
    assert len(invoices) == len(events)
    assert sum(Decimal(str(inv["TotalAmt"])) for inv in invoices) == Decimal("10.00") * len(events)
    # Every contact was looked up by email (and every new line name by name), and every one of
    # those queries parsed: an escaping slip shows up as a 400 parse error.
    log = await qbo.requests()
    assert log["by_method_path"].get("POST /query", 0) >= len(events)
    assert [r for r in log["requests"] if r["status"] >= 400] == []
