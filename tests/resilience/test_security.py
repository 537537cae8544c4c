"""Security properties a user would notice if broken (docs/design.md §3 "Security").

- Tokens at rest: after a connect, a sync and a forced refresh, no token the emulator issued
  (nor any configured secret) is in any column of any table; the stored one is the current
  token, encrypted. (tests/api/test_connect_flow.py checks the connections row by format.)
- Logs: the flows that handle tokens (exchange, refresh, invalid_grant, revoke, refused
  credentials) write none of them. The `secret_scan` plugin checks every test's output at the
  end of the session; its own check is tested here too.
- Links: what tests/api/test_connect_flow.py and tests/browser/test_card_links.py do not cover:
  a card token re-pointed at another location or given a longer life, tokens of one purpose
  used for the other, and an OAuth callback whose realmId was edited to someone else's company.
- Tenants: the CRM backend holds one API key for every location (docs/design.md §2.3), so the API
  key itself separates nothing; what separates locations is the location in every path, the
  per-location card token, and the realm of each connection. Tested: a location's card or API
  path cannot retry another location's sync-log entry, and the same CRM ids in two locations
  land each in its own company.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import select, text

from app.config import Settings
from app.db.session import SessionFactory
from app.models import Connection, CrmEvent, SyncLogEntry
from app.models.states import ConnectionStatus, Direction, InboundState, SyncState
from app.security.tokens import TokenCipher
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.app import emulator_of
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.state import Emulator
from tests.e2e.sync_helpers import Qbo, entries, post, settle
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET
from tests.fixtures.connect import AUTH, RETURN_URL, browse, describe, start_connect
from tests.fixtures.events import invoice_event
from tests.fixtures.live import free_port, serve
from tests.resilience import secret_scan

ROOT = Path(__file__).resolve().parents[2]
Live = tuple[str, Settings]


@dataclass
class Emulated:
    url: str
    state: Emulator

    def issued_tokens(self) -> dict[str, str]:
        """Every OAuth value this emulator handed out (token -> what it is)."""
        store = self.state.tokens
        tokens = {token: "access token" for token in store.access}
        for grant in store.grants.values():
            tokens[grant.refresh_token] = "refresh token"
            tokens.update(dict.fromkeys(grant.superseded, "rotated-out refresh token"))
        tokens.update(dict.fromkeys(store.codes, "authorization code"))
        return tokens


@pytest.fixture
def emulated(emulator_config: EmulatorConfig) -> Iterator[Emulated]:
    """The emulator, with a handle on its state so the tests know every token it issued."""
    port = free_port()
    app = create_emulator(replace(emulator_config, base_url=f"http://127.0.0.1:{port}"))
    with serve(app, port) as url:
        yield Emulated(url, emulator_of(app))


@pytest.fixture
def emulator(emulated: Emulated) -> str:
    """Overrides tests/fixtures/live.py's, so `live_service` talks to the emulator above."""
    return emulated.url


def simple_invoice(n: int, location: str = "loc_1", **data: Any) -> dict[str, Any]:
    total = data.pop("total", "10.00")
    totals = {
        "subtotal": total,
        "discount": "0.00",
        "tax": "0.00",
        "total": total,
        "amount_paid": "0.00",
        "amount_due": total,
    }
    payload = invoice_event(
        f"evt_sec_{location}_{n}",
        id=f"inv_{n}",
        number=f"SEC-{n}",
        line_items=[{"name": "Consultation", "quantity": 1, "unit_price": total, "taxes": []}],
        discount=None,
        totals=totals,
        created_at="2099-01-01T00:00:00Z",
        updated_at="2099-01-01T00:00:00Z",
        **data,
    )
    payload["location_id"] = location
    return payload


async def sync(base: str, db: SessionFactory, *payloads: dict[str, Any]) -> None:
    for payload in payloads:
        answer = await post(base, payload)
        assert answer.status_code == 202, answer.text
    await settle(db, timeout_s=60)


async def wait_for_status(base: str, status: str, location: str = "loc_1") -> None:
    deadline = time.monotonic() + 60
    while (current := (await describe(base, location))["status"]) != status:
        assert time.monotonic() < deadline, f"still {current}, never {status}"
        await asyncio.sleep(0.2)


async def expire_tokens(emulator: str, realm: str, db: SessionFactory) -> None:
    """The access token stops working at Intuit, and the service's copy is an hour old: the
    next request gets a 401 and refreshes (a 401 within a minute of the last refresh is taken
    for a race and not refreshed, app/sync/tokens.py JUST_REFRESHED)."""
    async with db() as session:
        await session.execute(
            text("UPDATE connections SET token_refreshed_at = now() - interval '1 hour'")
        )
        await session.commit()
    async with httpx.AsyncClient(base_url=emulator) as http:
        expired = await http.post(f"/_emulator/companies/{realm}/tokens/expire")
    assert expired.json()["expired"] >= 1


async def full_dump(db: SessionFactory) -> str:
    """Every row of every table of the schema, as PostgreSQL renders it (bytea as hex)."""
    async with db() as session:
        tables = (
            await session.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            )
        ).scalars()
        parts = []
        for table in list(tables):
            # Names from the catalogue, not from input.
            statement = f'SELECT t::text FROM public."{table}" t'  # noqa: S608
            rows = await session.execute(text(statement))
            parts.append(f"== {table}\n" + "\n".join(rows.scalars()))
    return "\n".join(parts)


def forms(value: str) -> list[str]:
    """The ways a value can sit in a dump: as text, or as the hex of a bytea."""
    return [value, value.encode().hex()]


@pytest.mark.slow
async def test_no_token_or_secret_in_any_column_after_connect_sync_and_refresh(
    live_service: Live, emulated: Emulated, connected_realm: str, db: SessionFactory
) -> None:
    base, _ = live_service
    await sync(base, db, simple_invoice(1))
    await expire_tokens(emulated.url, connected_realm, db)
    await sync(base, db, simple_invoice(2))
    assert [e.state for e in await entries(db)] == [SyncState.SYNCED] * 2

    issued = emulated.issued_tokens()
    # The refresh really happened: a second access token and a rotated-out refresh token.
    assert list(issued.values()).count("access token") >= 2, issued.values()
    assert "rotated-out refresh token" in issued.values()
    secrets = {value: name for name, value in secret_scan.configured_secrets().items()}
    dump = await full_dump(db)
    for table in ("connections", "crm_events", "crm_callbacks", "procrastinate_jobs"):
        assert f"== {table}" in dump
    found = [
        name
        for value, name in {**issued, **secrets}.items()
        if any(form in dump for form in forms(value))
    ]
    assert found == [], f"in clear in the database: {found}"

    # And what is stored is the current token, encrypted with the configured key.
    async with db() as session:
        connection = (await session.execute(select(Connection))).scalar_one()
    assert connection.access_token_enc is not None
    current = TokenCipher([FERNET_KEY]).decrypt(connection.access_token_enc)
    newest = max(emulated.state.tokens.access.values(), key=lambda t: t.expires_at)
    assert current == newest.token


@pytest.mark.slow
async def test_the_flows_that_handle_tokens_log_none_of_them(
    live_service: Live,
    emulated: Emulated,
    connected_realm: str,
    db: SessionFactory,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Exchange, API calls, refresh, invalid_grant, revoke and refused credentials, with the
    logs read as the service writes them (structlog's output and stdlib records)."""
    base, _ = live_service
    realm = connected_realm
    await sync(base, db, simple_invoice(1))
    await expire_tokens(emulated.url, realm, db)
    await sync(base, db, simple_invoice(2))
    async with httpx.AsyncClient(base_url=emulated.url) as http:
        await http.post(f"/_emulator/companies/{realm}/tokens/revoke")
    await expire_tokens(emulated.url, realm, db)
    # A dead refresh token: the next sync marks the connection as needing a reconnect.
    assert (await post(base, simple_invoice(3))).status_code == 202
    await wait_for_status(base, "needs_reconnect")
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.delete("/v1/connections/loc_1", headers=AUTH)).status_code == 200
        near_miss = AUTH["Authorization"][:-1] + "X"
        refused = await http.get("/v1/connections/loc_1", headers={"Authorization": near_miss})
        assert refused.status_code == 401
        assert AUTH["Authorization"].split()[1] not in refused.text
    # The server thread logs a request after answering it: wait for the refused one's line.
    logs = await logs_until(capsys, caplog, lambda line: "http.request" in line and "401" in line)
    for event in ("qbo.token.invalid_grant", "http.request"):
        assert event in logs, f"{event} was not logged: the capture saw nothing"
    scanner = secret_scan.SecretScanner(secret_scan.configured_secrets())
    for value, what in emulated.issued_tokens().items():
        scanner.token_issued(what, value)
        assert value not in logs, f"an emulator {what} is in the logs"
    assert [name for name, _ in scanner.find(logs)] == []


async def logs_until(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    seen: Callable[[str], bool],
    timeout_s: float = 10,
) -> str:
    """Everything logged so far (structlog's output and stdlib records), once a line satisfies
    `seen`: the last thing to be scanned has been written."""
    written: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        captured = capsys.readouterr()
        written += [captured.out, captured.err]
        logs = "\n".join([*written, caplog.text])
        if any(seen(line) for line in logs.splitlines()):
            return logs
        assert time.monotonic() < deadline, "the last request was never logged"
        await asyncio.sleep(0.05)


# Links.


def card_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def b64(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


async def register(client: httpx.AsyncClient, location: str) -> str:
    """A pending connection for `location`; returns its connect URL."""
    answer = await client.post(
        "/v1/connections",
        json={"location_id": location, "return_url": "http://127.0.0.1:3000/done"},
        headers=AUTH,
    )
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["connect_url"]
    return url


async def card_link(client: httpx.AsyncClient, location: str) -> str:
    answer = await client.post(f"/v1/connections/{location}/card-link", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return card_token(answer.json()["url"])


async def review_automation(client: httpx.AsyncClient, location: str) -> bool:
    answer = await client.get(f"/v1/connections/{location}", headers=AUTH)
    value: bool = answer.json()["review_automation"]
    return value


async def test_a_card_token_cannot_be_pointed_at_another_location_or_live_longer(
    client: httpx.AsyncClient,
) -> None:
    for location in ("loc_a", "loc_b"):
        await register(client, location)
    token_a = await card_link(client, "loc_a")
    _, expires, mac = token_a.split(".")
    forgeries = {
        "re-pointed at loc_b": f"{b64('loc_b')}.{expires}.{mac}",
        "a day longer": f"{b64('loc_a')}.{int(expires) + 86400}.{mac}",
        "no signature": f"{b64('loc_b')}.{expires}.",
    }
    for what, forged in forgeries.items():
        page = await client.get("/v1/card", params={"token": forged})
        assert page.status_code == 403, what
        button = await client.post(
            "/v1/card/review-automation", data={"token": forged, "enabled": "on"}
        )
        assert button.status_code == 403, what
    assert await review_automation(client, "loc_b") is False
    # The control: loc_b's own token does switch it, so the forgeries would have shown.
    token_b = await card_link(client, "loc_b")
    switched = await client.post(
        "/v1/card/review-automation", data={"token": token_b, "enabled": "on"}
    )
    assert switched.status_code == 303
    assert await review_automation(client, "loc_b") is True
    assert await review_automation(client, "loc_a") is False


async def test_a_token_of_one_purpose_is_refused_for_the_other(
    client: httpx.AsyncClient,
) -> None:
    connect_url = await register(client, "loc_a")
    state = parse_qs(urlsplit(connect_url).query)["state"][0]
    as_card = await client.get("/v1/card", params={"token": state})
    assert as_card.status_code == 403
    token = await card_link(client, "loc_a")
    as_state = await client.get("/v1/oauth/connect", params={"state": token})
    assert as_state.status_code == 400
    assert "location" not in as_state.headers
    # The genuine state still works (the refusals were about purpose, not a broken link).
    genuine = await client.get("/v1/oauth/connect", params={"state": state})
    assert genuine.status_code == 302


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.slow
async def test_a_callback_with_an_edited_realm_id_does_not_attach_another_company(
    live_service: Live, emulated: Emulated
) -> None:
    """The browser is the attacker's: consenting for their own company, they edit realmId in
    Intuit's redirect to a company they do not own. The location must not end up with it."""
    base, _ = live_service
    async with httpx.AsyncClient(base_url=emulated.url) as http:
        victim = (await http.post("/_emulator/companies", json={"name": "Victim"})).json()
        # Auto-consent picks the newest company: this one is the attacker's own.
        await http.post("/_emulator/companies", json={"name": "Attacker"})
    link = await start_connect(base, "loc_att")
    visited = await browse(link["connect_url"], stop_at=f"{base}/v1/oauth/callback")
    callback = visited[-1]
    assert callback.startswith(f"{base}/v1/oauth/callback"), visited
    assert parse_qs(urlsplit(callback).query)["realmId"][0] != victim["realm_id"]
    outcome = await browse(with_query(callback, realmId=victim["realm_id"]))
    assert outcome[-1].startswith(RETURN_URL.split("?")[0]), outcome
    assert "status=error" in outcome[-1], outcome[-1]
    described = await describe(base, "loc_att")
    assert described["realm_id"] != victim["realm_id"]
    assert described["status"] != "active"


# Tenants.


async def seed_failed_entry(db: SessionFactory, location: str) -> int:
    """`location` connected, with one failed CRM -> QBO entry; returns the entry id."""
    async with db() as session:
        connection = Connection(
            id=uuid.uuid4(),
            location_id=location,
            realm_id=str(9130000000000000 + len(location) + ord(location[-1])),
            status=ConnectionStatus.ACTIVE,
            company_name=f"{location} Bakery",
            import_state="done",
        )
        session.add(connection)
        await session.flush()
        event = CrmEvent(
            location_id=location,
            event_id=f"evt_{location}_failed",
            type="invoice.sent",
            occurred_at=datetime.now(UTC),
            body_hash="0" * 64,
            payload={},
            object_kind="invoice",
            object_id="inv_1",
            state=InboundState.FAILED,
        )
        session.add(event)
        await session.flush()
        entry = SyncLogEntry(
            connection_id=connection.id,
            direction=Direction.CRM_TO_QBO,
            kind="invoice",
            crm_id="inv_1",
            state=SyncState.FAILED,
            message="Duplicate Document Number Error",
            crm_event_id=event.id,
        )
        session.add(entry)
        await session.commit()
        return int(entry.id)


async def queued_jobs(db: SessionFactory) -> int:
    async with db() as session:
        count = await session.execute(text("SELECT count(*) FROM procrastinate_jobs"))
        return int(count.scalar_one())


async def event_state(db: SessionFactory, location: str) -> InboundState:
    async with db() as session:
        result = await session.execute(select(CrmEvent).where(CrmEvent.location_id == location))
        state: InboundState = result.scalar_one().state
        return state


async def test_a_location_cannot_retry_or_list_another_locations_sync_log(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    entry_a = await seed_failed_entry(db, "loc_a")
    entry_b = await seed_failed_entry(db, "loc_b")
    by_path = await client.post(f"/v1/connections/loc_a/sync-log/{entry_b}/retry", headers=AUTH)
    assert by_path.status_code == 404
    token_a = await card_link(client, "loc_a")
    by_card = await client.post("/v1/card/retry", data={"token": token_a, "entry_id": entry_b})
    assert by_card.status_code == 303
    assert "notice=not_retryable" in by_card.headers["location"]
    listed = await client.get("/v1/connections/loc_a/sync-log", headers=AUTH)
    assert [entry["id"] for entry in listed.json()["entries"]] == [entry_a]
    assert await queued_jobs(db) == 0
    assert await event_state(db, "loc_b") is InboundState.FAILED
    # The control: loc_b's own entry is retried through its own path.
    own = await client.post(f"/v1/connections/loc_b/sync-log/{entry_b}/retry", headers=AUTH)
    assert own.status_code == 202
    assert await queued_jobs(db) == 1


@pytest.mark.slow
async def test_the_same_crm_ids_in_two_locations_stay_in_their_own_companies(
    live_service: Live, emulated: Emulated, db: SessionFactory
) -> None:
    base, _ = live_service
    realms = {}
    for location, country in (("loc_us", "US"), ("loc_us2", "US")):
        async with httpx.AsyncClient(base_url=emulated.url) as http:
            created = await http.post("/_emulator/companies", json={"country": country})
        realms[location] = created.json()["realm_id"]
        visited = await browse((await start_connect(base, location))["connect_url"])
        assert "status=connected" in visited[-1], visited
        assert (await describe(base, location))["realm_id"] == realms[location]
    # The same contact, invoice and line ids in both locations, with different amounts.
    await sync(
        base,
        db,
        simple_invoice(1, "loc_us", total="11.00"),
        simple_invoice(1, "loc_us2", total="22.00"),
    )
    assert [e.state for e in await entries(db)] == [SyncState.SYNCED] * 2
    for location, total in (("loc_us", "11.00"), ("loc_us2", "22.00")):
        qbo = Qbo(emulated.url, realms[location])
        [invoice] = await qbo.all("Invoice")
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(total)
        assert len(await qbo.all("Customer")) == 1
        async with httpx.AsyncClient(base_url=base) as http:
            listed = await http.get(f"/v1/connections/{location}/sync-log", headers=AUTH)
        assert [e["qbo_id"] for e in listed.json()["entries"]] == [invoice["Id"]]


# The plugin that scans the whole suite's output.

LEAKY_TESTS = """
import logging

import structlog

from tests.fixtures.app import API_KEY, SIGNING_SECRET
from qbo_emulator.tokens import TokenStore


def test_logs_the_signing_secret():
    structlog.get_logger("app.x").info("oops", detail="signed with " + SIGNING_SECRET)


def test_logs_a_refresh_token():
    grant = TokenStore().new_grant("1", "client", "scope", 0)
    logging.getLogger("app.y").warning("refreshing with %s", grant.refresh_token)


def test_redacted_by_key_is_fine():
    structlog.get_logger("app.z").info("fine", api_key=API_KEY)


def test_clean():
    print("nothing secret here")
"""


def test_the_secret_scan_fails_the_session_naming_tests_and_secrets_never_values(
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.resilience.secret_scan"]\n')
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(LEAKY_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_leaky.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "4 passed" in out, out
    assert "2 secret leaks" in out, out
    assert "test_leaky.py::test_logs_the_signing_secret: CRM signing secret (tests)" in out
    assert "test_leaky.py::test_logs_a_refresh_token: OAuth refresh token issued" in out
    assert "test_redacted_by_key_is_fine" not in out.split("secret scan")[1]
    assert "test_clean" not in out
    assert SIGNING_SECRET not in out
    assert API_KEY not in out
    assert not secret_scan.REFRESH_TOKEN_RE.search(out)
