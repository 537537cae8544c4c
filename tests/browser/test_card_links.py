"""Card links and the card's forms over HTTP (no browser): signing, refusals, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.db.session import session_scope
from app.repositories import connections
from app.state import AppState
from app.web.card_tokens import CARD_TTL, CardSigner
from tests.fixtures.app import API_KEY, FERNET_KEY
from tests.fixtures.connect import AUTH

OTHER_KEY = "Yc6b0kJHqjK3y8a9m0bWQm5Hn2sXc4d7f1e3r5t7u9w="


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def link(client: httpx.AsyncClient, location: str = "loc_card") -> str:
    response = await client.post(f"/v1/connections/{location}/card-link", headers=AUTH)
    assert response.status_code == 200, response.text
    return token_of(response.json()["url"])


def test_a_token_names_its_location_until_it_expires() -> None:
    signer = CardSigner([FERNET_KEY])
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token, expires_at = signer.issue("loc|with.dots", now)
    assert expires_at == now + CARD_TTL
    grant = signer.verify(token, now + timedelta(minutes=29))
    assert grant is not None
    assert grant.location_id == "loc|with.dots"
    assert signer.verify(token, now + timedelta(minutes=31)) is None


def test_rotated_keys_still_verify_and_strangers_do_not() -> None:
    token, _ = CardSigner([FERNET_KEY]).issue("loc_1")
    assert CardSigner([OTHER_KEY, FERNET_KEY]).verify(token) is not None
    assert CardSigner([OTHER_KEY]).verify(token) is None


@pytest.mark.parametrize(
    "token",
    ["", "x", "a.b.c", "bG9j.99999999999999999999999.x", "é.1.ü", "bG9j..", "bG9j.4102444800.AAAA"],
)
def test_malformed_tokens_are_refused_quietly(token: str) -> None:
    assert CardSigner([FERNET_KEY]).verify(token) is None


async def test_card_links_need_the_crm_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections/loc_1/card-link")
    assert response.status_code == 401
    response = await client.post(
        "/v1/connections/loc_1/card-link", headers={"Authorization": "Bearer wrong"}
    )
    assert response.status_code == 401
    assert API_KEY not in response.text


async def test_a_card_link_is_short_lived_and_opens_the_card(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await client.post("/v1/connections/loc_new/card-link", headers=AUTH)
    body = response.json()
    assert body["url"].startswith(f"{state.settings.public_base_url}/v1/card?token=")
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=29) < expires_at - datetime.now(UTC) <= CARD_TTL
    page = await client.get("/v1/card", params={"token": token_of(body["url"])})
    assert page.status_code == 200
    assert "Connect to QuickBooks" in page.text
    assert '<html lang="en">' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("token", ["", "garbage", "bG9j.1.x"])
async def test_a_bad_or_expired_token_gets_a_plain_403(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get("/v1/card", params={"token": token})
    assert response.status_code == 403
    assert "not valid or has expired" in response.text


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    old = datetime.now(UTC) - CARD_TTL - timedelta(seconds=5)
    token, _ = CardSigner([FERNET_KEY]).issue("loc_1", old)
    assert (await client.get("/v1/card", params={"token": token})).status_code == 403


@pytest.mark.parametrize(
    "path",
    ["connect", "reconnect", "review-automation", "disconnect", "release", "retry", "retry-all"],
)
async def test_every_button_checks_the_token(
    client: httpx.AsyncClient, state: AppState, path: str
) -> None:
    response = await client.post(f"/v1/card/{path}", data={"token": "forged", "enabled": "on"})
    assert response.status_code == 403
    missing = await client.post(f"/v1/card/{path}")
    assert missing.status_code == 403
    async with session_scope(state.session_factory) as session:
        assert await connections.get_by_location(session, "loc_card") is None


async def test_connect_starts_the_flow_with_the_toggles_and_returns_to_the_card(
    client: httpx.AsyncClient, state: AppState
) -> None:
    token = await link(client)
    response = await client.post("/v1/card/connect", data={"token": token, "import_invoices": "on"})
    assert response.status_code == 303
    assert "/v1/oauth/connect?state=" in response.headers["location"]
    async with session_scope(state.session_factory) as session:
        connection = await connections.get_by_location(session, "loc_card")
    assert connection is not None
    assert (connection.import_invoices, connection.review_automation) == (True, False)


async def test_buttons_on_an_unconnected_card_say_so(client: httpx.AsyncClient) -> None:
    token = await link(client)
    response = await client.post(
        "/v1/card/review-automation", data={"token": token, "enabled": "on"}
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "This location is not connected to QuickBooks." in page.text
    answer = await client.post("/v1/card/retry", data={"token": token, "entry_id": "12"})
    assert answer.status_code == 303
    assert "notice=not_retryable" in answer.headers["location"]
    # Not an id the card could have printed (a forged form): a plain 400, see test_row_ids.
    for entry_id in ("x" * 40, "9" * 30):
        answer = await client.post("/v1/card/retry", data={"token": token, "entry_id": entry_id})
        assert answer.status_code == 400


async def test_the_query_string_is_never_echoed(client: httpx.AsyncClient) -> None:
    token = await link(client)
    page = await client.get(
        "/v1/card",
        params={"token": token, "notice": "<script>x</script>", "status": "error", "reason": "<b>"},
    )
    assert page.status_code == 200
    assert "<script>x" not in page.text
    assert "<b>" not in page.text
    assert "QuickBooks was not connected. Please try again." in page.text
