"""The OAuth connect flow over real HTTP redirects, against the QBO emulator (C1, C3)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.session import SessionFactory
from qbo_emulator.config import EmulatorConfig
from tests.fixtures.connect import AUTH, browse, describe, start_connect


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    return auto_consent_config


def outcome(url: str) -> dict[str, str]:
    assert url.startswith("https://crm.example.com/integrations/qbo/done?tab=settings&"), url
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_happy_path_connects_and_reads_company_settings(
    live_service: tuple[str, Settings], emulator: str
) -> None:
    base, _ = live_service
    link = await start_connect(base, import_invoices=True, review_automation=True)
    visited = await browse(link["connect_url"])
    assert visited[1].startswith(f"{emulator}/connect/oauth2?")
    assert "scope=com.intuit.quickbooks.accounting" in visited[1]
    assert outcome(visited[-1]) == {"tab": "settings", "status": "connected"}
    connection = await describe(base)
    assert connection["status"] == "active"
    assert connection["realm_id"]
    assert connection["import_invoices"] is True
    assert connection["review_automation"] is True
    assert connection["company"]["country"] == "US"
    assert connection["company"]["home_currency"] == "USD"
    assert connection["company"]["sales_tax_mode"] == "automated"
    assert connection["import"]["state"] in {"queued", "running", "done"}
    assert "token" not in str(connection).lower()


async def test_connect_link_is_single_use(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    link = await start_connect(base)
    first = await browse(link["connect_url"])
    again = await browse(link["connect_url"])
    assert outcome(first[-1])["status"] == "connected"
    assert outcome(again[-1]) == {
        "tab": "settings",
        "status": "error",
        "reason": "link_used_or_expired",
    }


async def test_replayed_callback_never_exchanges_twice(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    link = await start_connect(base)
    visited = await browse(link["connect_url"])
    callback = next(url for url in visited if "/v1/oauth/callback?" in url)
    replay = await browse(callback)
    assert outcome(replay[-1])["reason"] == "link_used_or_expired"
    assert (await describe(base))["status"] == "active"


async def test_reused_code_is_refused_with_a_reason(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    first = await browse((await start_connect(base))["connect_url"])
    used_code = parse_qs(urlsplit(next(u for u in first if "code=" in u)).query)["code"][0]
    second = await start_connect(base, location="loc_2")
    visited = await browse(second["connect_url"], stop_at=f"{base}/v1/oauth/callback")
    callback = visited[-1].replace(parse_qs(urlsplit(visited[-1]).query)["code"][0], used_code)
    result = await browse(callback)
    assert outcome(result[-1]) == {
        "tab": "settings",
        "status": "error",
        "reason": "token_exchange_failed",
    }
    assert (await describe(base, "loc_2"))["status"] == "pending"


async def test_expired_link_is_refused(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    base, _ = live_service
    link = await start_connect(base)
    async with db() as session, session.begin():
        await session.execute(text("UPDATE oauth_states SET expires_at = now() - interval '1 s'"))
    visited = await browse(link["connect_url"])
    assert outcome(visited[-1])["reason"] == "link_used_or_expired"


async def test_forged_state_gets_a_plain_page_not_a_redirect(
    live_service: tuple[str, Settings],
) -> None:
    base, _ = live_service
    link = await start_connect(base)
    forged = re.sub(r"state=[0-9a-f]{32}", "state=" + "0" * 32, link["connect_url"])
    visited = await browse(forged)
    assert visited[-1].startswith("PAGE 400")
    assert "not valid" in visited[-1]


async def test_foreign_return_url_is_refused(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/v1/connections",
            json={"location_id": "loc_1", "return_url": "https://evil.example.net/steal"},
            headers=AUTH,
        )
    assert response.status_code == 422
    assert "CRM_RETURN_URL_ORIGINS" in response.json()["detail"]


async def test_a_realm_connected_to_another_location_is_refused(
    live_service: tuple[str, Settings], emulator: str
) -> None:
    base, _ = live_service
    await browse((await start_connect(base, location="loc_a"))["connect_url"])
    # --auto-consent connects the most recently created company: the same realm again.
    visited = await browse((await start_connect(base, location="loc_b"))["connect_url"])
    assert outcome(visited[-1])["reason"] == "realm_in_use"
    assert (await describe(base, "loc_b"))["status"] == "pending"


async def test_disconnect_revokes_and_keeps_accepting_events(
    live_service: tuple[str, Settings],
) -> None:
    base, _ = live_service
    await browse((await start_connect(base))["connect_url"])
    async with httpx.AsyncClient() as http:
        response = await http.delete(f"{base}/v1/connections/loc_1", headers=AUTH)
    assert response.json() == {"location_id": "loc_1", "status": "disconnected", "revoked": True}
    assert (await describe(base))["status"] == "disconnected"


async def test_review_automation_can_be_toggled(live_service: tuple[str, Settings]) -> None:
    base, _ = live_service
    await browse((await start_connect(base))["connect_url"])
    async with httpx.AsyncClient() as http:
        response = await http.patch(
            f"{base}/v1/connections/loc_1", json={"review_automation": True}, headers=AUTH
        )
    assert response.json()["review_automation"] is True
    assert (await describe(base))["review_automation"] is True


async def test_tokens_are_encrypted_at_rest(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    base, _ = live_service
    await browse((await start_connect(base))["connect_url"])
    async with db() as session:
        dump = (
            await session.execute(text("SELECT row_to_json(c)::text FROM connections c"))
        ).scalar_one()
    assert '"access_token_enc":"gAAAA' in dump
    # The emulator's access tokens start like Intuit's ("eyJlbmMi...") and its refresh tokens
    # are "AB11" + 12 digits, as Intuit's are; neither may appear in clear.
    assert "eyJlbmMi" not in dump
    assert not re.search(r"AB11[0-9]{12}", dump)


async def test_cancel_on_the_consent_page_returns_access_denied(
    live_service: tuple[str, Settings], emulator: str
) -> None:
    base, _ = live_service
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.patch("/_emulator/config", json={"auto_consent": False})
    link = await start_connect(base)
    visited = await browse(link["connect_url"])
    consent_page = visited[-1]
    assert consent_page.startswith("PAGE 200")
    assert "Cancel" in consent_page
    authorize = urlsplit(visited[-2])
    form = {k: v[0] for k, v in parse_qs(authorize.query).items()} | {"action": "cancel"}
    async with httpx.AsyncClient() as browser:
        response = await browser.post(f"{emulator}/connect/oauth2/consent", data=form)
    assert response.status_code in (302, 303)
    result = await browse(response.headers["location"])
    assert outcome(result[-1]) == {"tab": "settings", "status": "error", "reason": "access_denied"}
    assert (await describe(base))["status"] == "pending"


async def test_a_location_cannot_switch_to_another_company(
    live_service: tuple[str, Settings], emulator: str
) -> None:
    base, _ = live_service
    await browse((await start_connect(base))["connect_url"])
    first_realm = (await describe(base))["realm_id"]
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.post("/_emulator/companies", json={"country": "GB", "currency": "GBP"})
    # --auto-consent now picks the newer company.
    visited = await browse((await start_connect(base))["connect_url"])
    assert outcome(visited[-1])["reason"] == "different_company"
    assert (await describe(base))["realm_id"] == first_realm


async def test_authorize_url_carries_an_s256_code_challenge(
    live_service: tuple[str, Settings], emulator: str
) -> None:
    """Smaller holes (item 10), PKCE: the consent URL binds the code to this attempt."""
    base, _ = live_service
    visited = await browse((await start_connect(base))["connect_url"])
    authorize = parse_qs(urlsplit(visited[1]).query)
    assert authorize["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", authorize["code_challenge"][0])
    assert outcome(visited[-1])["status"] == "connected"


async def test_a_code_from_another_attempt_is_refused_by_pkce(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    """Smaller holes (item 10), PKCE: attempt A's unused code cannot complete attempt B."""
    base, _ = live_service
    first = await start_connect(base, location="loc_1")
    a = await browse(first["connect_url"], stop_at=f"{base}/v1/oauth/callback")
    code_a = parse_qs(urlsplit(a[-1]).query)["code"][0]
    second = await start_connect(base, location="loc_2")
    b = await browse(second["connect_url"], stop_at=f"{base}/v1/oauth/callback")
    callback_b = b[-1].replace(parse_qs(urlsplit(b[-1]).query)["code"][0], code_a)
    result = await browse(callback_b)
    assert outcome(result[-1]) == {
        "tab": "settings",
        "status": "error",
        "reason": "token_exchange_failed",
    }
    assert (await describe(base, "loc_2"))["status"] == "pending"
    async with db() as session:
        verifiers = (
            await session.execute(
                text("SELECT location_id, code_verifier FROM oauth_states ORDER BY location_id")
            )
        ).all()
    # Handed out once and cleared with the callback's claim; the unfinished attempt keeps its own.
    assert [(loc, v is None) for loc, v in verifiers] == [("loc_1", False), ("loc_2", True)]


@pytest.mark.parametrize(
    "location_id",
    ["a/b", ".", "..", "loc.1", "../etc", "loc 1", "loc:1", "lõc", "loc\n", "x" * 201],
)
async def test_unsafe_location_ids_are_refused_at_registration(
    live_service: tuple[str, Settings], db: SessionFactory, location_id: str
) -> None:
    """Smaller holes (item 10): a new location id is ASCII letters, digits, '_' or '-' only."""
    base, _ = live_service
    body = {"location_id": location_id, "return_url": "https://crm.example.com/done"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base}/v1/connections", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == ["body.location_id"]
    async with db() as session:
        assert (await session.execute(text("SELECT count(*) FROM connections"))).scalar_one() == 0


async def test_a_location_registered_before_the_id_rule_can_still_connect(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    """Smaller holes (item 10): the rule applies to new locations, never strands an old one."""
    base, _ = live_service
    async with db() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO connections (id, location_id, status, import_invoices,"
                " review_automation) VALUES (gen_random_uuid(), 'old.loc', 'pending', false, false)"
            )
        )
    link = await start_connect(base, location="old.loc")
    assert outcome((await browse(link["connect_url"]))[-1])["status"] == "connected"


async def test_the_card_refuses_to_connect_an_unsafe_location_id(
    client: httpx.AsyncClient, db: SessionFactory
) -> None:
    """Smaller holes (item 10): the card's Connect registers no location with an unsafe id."""
    response = await client.post("/v1/connections/loc.1/card-link", headers=AUTH)
    token = parse_qs(urlsplit(response.json()["url"]).query)["token"][0]
    answer = await client.post("/v1/card/connect", data={"token": token})
    assert answer.status_code == 303
    assert "notice=location_refused" in answer.headers["location"]
    page = await client.get(answer.headers["location"])
    assert "only letters, digits" in page.text
    async with db() as session:
        assert (await session.execute(text("SELECT count(*) FROM connections"))).scalar_one() == 0
