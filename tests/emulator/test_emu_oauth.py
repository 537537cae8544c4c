"""Intuit OAuth 2.0: authorize/consent, code exchange once, refresh rotation, revoke."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qbo_emulator.state import Emulator

REDIRECT = "http://app.test/callback"
SCOPE = "com.intuit.quickbooks.accounting"


def basic(emu: Emulator, secret: str | None = None) -> dict[str, str]:
    raw = f"{emu.config.client_id}:{secret or emu.config.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def authorize_params(emu: Emulator, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": emu.config.client_id,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": REDIRECT,
        "state": "csrf-123",
    }
    return {**params, **overrides}


def callback(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def connect(http: httpx.AsyncClient, emu: Emulator) -> dict[str, str]:
    emu.config.auto_consent = True
    return callback(await http.get("/connect/oauth2", params=authorize_params(emu)))


async def exchange(http: httpx.AsyncClient, emu: Emulator, code: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return await http.post("/oauth2/v1/tokens/bearer", data=form, headers=basic(emu))


async def refresh(http: httpx.AsyncClient, emu: Emulator, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return await http.post("/oauth2/v1/tokens/bearer", data=form, headers=basic(emu))


class TestAuthorize:
    async def test_unknown_client_is_400_without_redirect(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        response = await http.get("/connect/oauth2", params=authorize_params(emu, client_id="nope"))
        assert response.status_code == 400

    async def test_bad_redirect_uri_is_400(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        response = await http.get(
            "/connect/oauth2", params=authorize_params(emu, redirect_uri="ftp://x")
        )
        assert response.status_code == 400

    @pytest.mark.parametrize(
        ("override", "error"),
        [
            ({"scope": "bogus"}, "invalid_scope"),
            ({"response_type": "token"}, "unsupported_response_type"),
        ],
    )
    async def test_bad_scope_or_type_redirects_with_error(
        self, http: httpx.AsyncClient, emu: Emulator, override: dict[str, str], error: str
    ) -> None:
        params = callback(
            await http.get("/connect/oauth2", params=authorize_params(emu, **override))
        )
        assert params == {"error": error, "state": "csrf-123"}

    async def test_consent_page_lists_companies_and_connects(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        realm = (await http.post("/_emulator/companies", json={"name": "Pick Me"})).json()[
            "realm_id"
        ]
        page = await http.get("/connect/oauth2", params=authorize_params(emu))
        assert page.status_code == 200
        assert "Pick Me" in page.text
        assert "Cancel" in page.text
        form = {**authorize_params(emu), "realm_id": realm, "action": "connect"}
        params = callback(await http.post("/connect/oauth2/consent", data=form))
        assert params["realmId"] == realm
        assert params["state"] == "csrf-123"
        assert params["code"]

    async def test_cancel_is_access_denied(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        form = {**authorize_params(emu), "action": "cancel"}
        assert callback(await http.post("/connect/oauth2/consent", data=form)) == {
            "error": "access_denied",
            "state": "csrf-123",
        }

    async def test_auto_consent_creates_us_company_when_none(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        params = await connect(http, emu)
        assert emu.companies[params["realmId"]].country == "US"

    async def test_auto_consent_uses_latest_company(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        await http.post("/_emulator/companies", json={})
        latest = (await http.post("/_emulator/companies", json={"country": "GB"})).json()[
            "realm_id"
        ]
        assert (await connect(http, emu))["realmId"] == latest


def pkce_pair(verifier: str = "v" * 43) -> tuple[str, str]:
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def connect_with(http: httpx.AsyncClient, emu: Emulator, **params: str) -> dict[str, str]:
    emu.config.auto_consent = True
    return callback(await http.get("/connect/oauth2", params=authorize_params(emu, **params)))


async def exchange_pkce(
    http: httpx.AsyncClient, emu: Emulator, code: str, verifier: str | None
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await http.post("/oauth2/v1/tokens/bearer", data=form, headers=basic(emu))


class TestPkce:
    """Smaller holes (item 10), PKCE: RFC 7636 §4.6 verification of code_verifier."""

    async def test_s256_verifier_must_match_the_challenge(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        verifier, challenge = pkce_pair()
        method = {"code_challenge": challenge, "code_challenge_method": "S256"}
        good = await connect_with(http, emu, **method)
        assert (await exchange_pkce(http, emu, good["code"], verifier)).status_code == 200
        for other in ("w" * 43, None):  # another attempt's verifier, or none at all
            params = await connect_with(http, emu, **method)
            refused = await exchange_pkce(http, emu, params["code"], other)
            assert refused.status_code == 400
            assert refused.json()["error"] == "invalid_grant"
            # The code is spent by the refused try, like any failed exchange.
            again = await exchange_pkce(http, emu, params["code"], verifier)
            assert again.json()["error"] == "invalid_grant"

    async def test_plain_method_compares_as_is(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        params = await connect_with(http, emu, code_challenge="p" * 50)  # plain by default
        assert (await exchange_pkce(http, emu, params["code"], "p" * 50)).status_code == 200

    @pytest.mark.parametrize(
        "params",
        [
            {"code_challenge": "short"},
            {"code_challenge": "c" * 43, "code_challenge_method": "S512"},
            {"code_challenge_method": "S256"},
        ],
    )
    async def test_malformed_challenge_is_invalid_request(
        self, http: httpx.AsyncClient, emu: Emulator, params: dict[str, str]
    ) -> None:
        emu.config.auto_consent = True
        answer = callback(await http.get("/connect/oauth2", params=authorize_params(emu, **params)))
        assert answer["error"] == "invalid_request"

    async def test_without_a_challenge_no_verifier_is_needed(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        params = await connect(http, emu)
        assert (await exchange_pkce(http, emu, params["code"], None)).status_code == 200


class TestTokens:
    async def test_code_works_once(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        params = await connect(http, emu)
        first = await exchange(http, emu, params["code"])
        body: dict[str, Any] = first.json()
        assert first.status_code == 200
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["x_refresh_token_expires_in"] == 8726400
        assert first.headers["intuit_tid"]
        second = await exchange(http, emu, params["code"])
        assert second.status_code == 400
        assert second.json()["error"] == "invalid_grant"

    async def test_wrong_client_secret(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        params = await connect(http, emu)
        form = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
        }
        response = await http.post(
            "/oauth2/v1/tokens/bearer", data=form, headers=basic(emu, "wrong")
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_refresh_rotates_and_old_value_is_invalid_grant(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        params = await connect(http, emu)
        tokens = (await exchange(http, emu, params["code"])).json()
        renewed = (await refresh(http, emu, tokens["refresh_token"])).json()
        assert renewed["refresh_token"] != tokens["refresh_token"]
        stale = await refresh(http, emu, tokens["refresh_token"])
        assert stale.status_code == 400
        assert stale.json()["error"] == "invalid_grant"
        realm = params["realmId"]
        api = await http.get(
            f"/v3/company/{realm}/preferences",
            headers={"Authorization": f"Bearer {renewed['access_token']}"},
        )
        assert api.status_code == 200

    async def test_refresh_without_rotation_keeps_value(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        emu.config.refresh_rotation = False
        params = await connect(http, emu)
        tokens = (await exchange(http, emu, params["code"])).json()
        renewed = (await refresh(http, emu, tokens["refresh_token"])).json()
        assert renewed["refresh_token"] == tokens["refresh_token"]
        assert renewed["access_token"] != tokens["access_token"]

    async def test_revoke_disconnects(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        params = await connect(http, emu)
        tokens = (await exchange(http, emu, params["code"])).json()
        revoked = await http.post(
            "/v2/oauth2/tokens/revoke", json={"token": tokens["refresh_token"]}, headers=basic(emu)
        )
        assert revoked.status_code == 200
        assert (await refresh(http, emu, tokens["refresh_token"])).json()[
            "error"
        ] == "invalid_grant"
        api = await http.get(
            f"/v3/company/{params['realmId']}/preferences",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert api.status_code == 401

    async def test_revoke_accepts_rfc7009_form_body(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        params = await connect(http, emu)
        tokens = (await exchange(http, emu, params["code"])).json()
        form = {"token": tokens["access_token"], "token_type_hint": "access_token"}
        revoked = await http.post("/v2/oauth2/tokens/revoke", data=form, headers=basic(emu))
        assert revoked.status_code == 200
        assert (await refresh(http, emu, tokens["refresh_token"])).status_code == 400

    async def test_discovery_document_points_at_emulator(self, http: httpx.AsyncClient) -> None:
        doc = (await http.get("/.well-known/openid_sandbox_configuration/")).json()
        assert doc["token_endpoint"] == "http://emu.test/oauth2/v1/tokens/bearer"
        assert doc["authorization_endpoint"] == "http://emu.test/connect/oauth2"
