"""Third-party clients, used as their users use them, against the emulator on a real socket.

intuit-oauth reads the discovery document (its `environment` may be a discovery URL), does the
authorization-code exchange and a refresh; python-quickbooks then creates, queries and updates a
Customer, creates an Invoice and gets a 5010 on a stale update.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice

from qbo_emulator.app import create_app, emulator_of
from qbo_emulator.config import EmulatorConfig

REDIRECT = "http://localhost:9999/callback"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(EmulatorConfig(base_url=base, auto_consent=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "emulator did not start"
        time.sleep(0.02)
    try:
        yield base, emulator_of(app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def auth_client(served: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> AuthClient:
    # requests-oauthlib refuses plain http unless told this is a local test server.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    base, emu = served
    return AuthClient(
        client_id=emu.config.client_id,
        client_secret=emu.config.client_secret,
        redirect_uri=REDIRECT,
        environment=f"{base}/.well-known/openid_sandbox_configuration/",
    )


def authorize(auth_client: AuthClient) -> tuple[str, str]:
    url = auth_client.get_authorization_url([Scopes.ACCOUNTING])
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert params["state"] == [auth_client.state_token]
    return params["code"][0], params["realmId"][0]


def quickbooks(auth_client: AuthClient, base: str, realm: str) -> QuickBooks:
    client = QuickBooks(
        auth_client=auth_client,
        refresh_token=auth_client.refresh_token,
        company_id=realm,
        minorversion=75,
    )
    # python-quickbooks only knows Intuit's hosts; pointing it elsewhere is an attribute.
    client.api_url_v3 = f"{base}/v3"
    return client


def test_intuit_oauth_exchange_refresh_and_revoke(auth_client: AuthClient) -> None:
    code, realm = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm)
    first_access, first_refresh = auth_client.access_token, auth_client.refresh_token
    assert first_access
    assert first_refresh
    assert auth_client.expires_in == 3600
    assert auth_client.x_refresh_token_expires_in == 8726400
    with pytest.raises(AuthClientError):
        auth_client.get_bearer_token(code, realm_id=realm)  # a code works once
    auth_client.refresh()
    assert auth_client.access_token != first_access
    assert auth_client.refresh_token != first_refresh
    with pytest.raises(AuthClientError) as info:
        auth_client.refresh(refresh_token=first_refresh)
    assert info.value.status_code == 400
    assert b"invalid_grant" in info.value.content
    assert auth_client.revoke(token=auth_client.refresh_token) is True


def test_python_quickbooks_customer_and_invoice(
    auth_client: AuthClient, served: tuple[str, Any]
) -> None:
    base, _ = served
    code, realm = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm)
    auth_client.refresh()
    qb = quickbooks(auth_client, base, realm)

    customer = Customer()
    customer.DisplayName = "Adam's Candy Shop"
    customer.GivenName = "Adam"
    saved = customer.save(qb=qb)
    assert saved.Id
    assert saved.SyncToken == "0"

    found = Customer.filter(DisplayName="Adam's Candy Shop", qb=qb)
    assert [c.Id for c in found] == [saved.Id]
    assert Customer.count(qb=qb) == 1

    fetched = Customer.get(saved.Id, qb=qb)
    stale_copy = Customer.get(saved.Id, qb=qb)
    fetched.CompanyName = "Candy Co"
    updated = fetched.save(qb=qb)
    assert updated.SyncToken == "1"
    assert updated.CompanyName == "Candy Co"

    stale_copy.CompanyName = "Lost update"
    with pytest.raises(QuickbooksException) as info:
        stale_copy.save(qb=qb)
    assert info.value.error_code == 5010

    invoice = Invoice()
    line = SalesItemLine()
    line.Amount = 100
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = "1"
    line.SalesItemLineDetail.Qty = 2
    line.SalesItemLineDetail.UnitPrice = 50
    invoice.Line.append(line)
    invoice.CustomerRef = updated.to_ref()
    created = invoice.save(qb=qb)
    assert created.Id
    assert float(created.TotalAmt) == 100.0
    assert Invoice.get(created.Id, qb=qb).CustomerRef.value == saved.Id
