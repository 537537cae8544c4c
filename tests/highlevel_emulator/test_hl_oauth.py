"""Marketplace OAuth: authorize page, code exchange, refresh rotation (apps/oauth.json,
docs/oauth/Authorization.md)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from highlevel_emulator.config import HighLevelEmulatorConfig
from tests.highlevel_emulator.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    Stand,
    bearer,
)


def _token_form(**extra: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}


async def test_auto_consent_redirects_with_a_code_that_buys_a_location_token(
    stand: Stand, config: HighLevelEmulatorConfig
) -> None:
    config.auto_consent = True
    await stand.location("LOC1", company_id="COMP1")
    response = await stand.http.get(
        "/oauth/chooselocation",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": "invoices.readonly contacts.write",
            "state": "xyz",
        },
    )
    assert response.status_code == 302
    target = urlparse(response.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    assert query["state"] == ["xyz"]
    form = _token_form(grant_type="authorization_code", code=query["code"][0])
    form["user_type"] = "Location"
    answer = await stand.http.post("/oauth/token", data=form)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86399
    assert body["userType"] == "Location"
    assert body["locationId"] == "LOC1"
    assert body["companyId"] == "COMP1"
    assert body["scope"] == "invoices.readonly contacts.write"
    # The code is single use.
    again = await stand.http.post("/oauth/token", data=form)
    assert again.status_code == 401


async def test_consent_page_posts_the_chosen_location(stand: Stand) -> None:
    await stand.location("LOC1")
    await stand.location("LOC2")
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code"}
    page = await stand.http.get("/v2/oauth/chooselocation", params=params)
    assert page.status_code == 200
    assert "LOC2" in page.text
    posted = await stand.http.post("/oauth/chooselocation", data={**params, "location_id": "LOC2"})
    assert posted.status_code == 302
    assert (await stand.control("GET", "/locations/LOC2"))["installed"] is True
    assert (await stand.control("GET", "/locations/LOC1"))["installed"] is False


async def test_unknown_client_gets_an_error_page(stand: Stand) -> None:
    params = {"client_id": "nope", "redirect_uri": REDIRECT}
    response = await stand.http.get("/oauth/chooselocation", params=params)
    assert response.status_code == 400


async def test_refresh_rotates_and_the_used_refresh_token_is_spent(stand: Stand) -> None:
    await stand.location()
    first = await stand.connect()
    form = _token_form(grant_type="refresh_token", refresh_token=first["refresh_token"])
    refreshed = await stand.http.post("/oauth/token", data={**form, "user_type": "Location"})
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["locationId"] == "LOC1"
    reused = await stand.http.post("/oauth/token", data=form)
    assert reused.status_code == 401
    assert reused.json()["error"] == "invalid_grant"
    ok = await stand.http.get("/contacts/search/duplicate?locationId=LOC1", headers=bearer(second))
    assert ok.status_code == 200


async def test_wrong_secret_is_refused(stand: Stand) -> None:
    await stand.location()
    installed = await stand.control("POST", "/locations/LOC1/install", {})
    form = {"client_id": CLIENT_ID, "client_secret": "wrong", "grant_type": "authorization_code"}
    response = await stand.http.post("/oauth/token", data={**form, "code": installed["code"]})
    assert response.status_code == 401


async def test_expired_access_token_is_401_until_refreshed(stand: Stand) -> None:
    await stand.location()
    tokens = await stand.connect()
    url = "/contacts/search/duplicate?locationId=LOC1&email=a@b.c"
    assert (await stand.http.get(url, headers=bearer(tokens))).status_code == 200
    assert (await stand.control("POST", "/locations/LOC1/expire-tokens"))["expired"] == 1
    expired = await stand.http.get(url, headers=bearer(tokens))
    assert expired.status_code == 401
    assert expired.json()["statusCode"] == 401
    form = _token_form(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    fresh = (await stand.http.post("/oauth/token", data=form)).json()
    assert (await stand.http.get(url, headers=bearer(fresh))).status_code == 200


async def test_uninstall_revokes_the_tokens(stand: Stand) -> None:
    await stand.location()
    tokens = await stand.connect()
    await stand.control("POST", "/locations/LOC1/uninstall")
    url = "/contacts/search/duplicate?locationId=LOC1"
    assert (await stand.http.get(url, headers=bearer(tokens))).status_code == 401
    form = _token_form(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (await stand.http.post("/oauth/token", data=form)).status_code == 401
