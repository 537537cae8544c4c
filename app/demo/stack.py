"""The demo's machinery: the stack it starts on free ports of 127.0.0.1 (embedded PostgreSQL, the
QBO emulator, the service with its worker, the stand-in CRM) and the helpers its steps use to post
signed events and read both sides. The steps themselves are in app/demo/run.py."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import CrmSettings, QboSettings, Settings
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from app.db.provision import Database
from app.demo.crm import CALLBACK_PATH, DemoCrm
from app.integrations.crm.signatures import sign
from app.main import create_app
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.config import EmulatorConfig

T = TypeVar("T")
STEP_TIMEOUT_S = 30.0
CARD_LINK_PATH = "/v1/connections/{location_id}/card-link"


def say(line: str = "") -> None:
    print(line, flush=True)  # noqa: T201 - the demo talks to the person running it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{app.title} did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float = STEP_TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


class DemoError(Exception):
    """A step did not turn out as expected; the message says which."""


@dataclass
class Stack:
    service: str
    emulator: str
    crm_url: str
    crm: DemoCrm
    settings: Settings
    app: FastAPI
    http: httpx.Client
    # (company, step, CRM side, QuickBooks side) for the closing table.
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        assert self.settings.crm.api_key is not None
        return {"Authorization": f"Bearer {self.settings.crm.api_key.get_secret_value()}"}


def emulator_qbo(emulator: str, service: str) -> QboSettings:
    """The QBO settings of a service talking to the emulator's published demo credentials."""
    return QboSettings(
        client_id="emulator-client-id",
        client_secret=SecretStr("emulator-client-secret"),
        webhook_verifier_token=SecretStr("emulator-verifier-token"),
        redirect_uri=f"{service}/v1/oauth/callback",
        api_base_url=emulator,
        oauth_base_url=emulator,
    )


def _settings(db_url: str, data_dir: Path, emulator: str, port: int, crm_url: str) -> Settings:
    return Settings(
        DATABASE_URL=db_url,
        QBS_DATA_DIR=data_dir,
        QBS_AUTO_MIGRATE=False,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING",
        crm=CrmSettings(
            signing_secret=SecretStr(secrets.token_urlsafe(32)),
            api_key=SecretStr(secrets.token_urlsafe(32)),
            callback_url=crm_url + CALLBACK_PATH,
            return_url_origins=[crm_url],
        ),
        qbo=emulator_qbo(emulator, f"http://127.0.0.1:{port}"),
    )


@contextlib.contextmanager
def _database(data_dir: Path | None) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qbs-demo-")))
        embedded = EmbeddedPostgres(data_dir / "db", delete_on_stop=True)
        url = embedded.start()
        stack.callback(embedded.stop)
        yield url


@contextlib.contextmanager
def running(data_dir: Path | None) -> Iterator[Stack]:
    """Everything up, on free ports; torn down in reverse order on the way out."""
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        db_url = stack.enter_context(_database(data_dir))
        migrate.upgrade(db_url)
        say(f"  database   PostgreSQL (embedded), migrated  [{time.monotonic() - started:.1f} s]")
        emulator_port, service_port, crm_port = free_port(), free_port(), free_port()
        # Webhooks go to the service, so changes made "in QuickBooks" reach the CRM.
        emulator_config = EmulatorConfig(
            base_url=f"http://127.0.0.1:{emulator_port}",
            auto_consent=True,
            webhook_url=f"http://127.0.0.1:{service_port}/v1/qbo/webhooks",
        )
        emulator = stack.enter_context(serve(create_emulator(emulator_config), emulator_port))
        say(f"  emulator   {emulator}  (QuickBooks Online stand-in, auto-consent)")
        crm_url = f"http://127.0.0.1:{crm_port}"
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qbs-demo-st-")))
        settings = _settings(db_url, state_dir, emulator, service_port, crm_url)
        assert settings.crm.signing_secret is not None
        crm = DemoCrm(settings.crm.signing_secret.get_secret_value())
        stack.enter_context(serve(crm.app(), crm_port))
        say(f"  CRM        {crm_url}  (receives signed callbacks)")
        settings.worker.poll_interval_s = 0.1
        app = create_app(settings, run_worker=True, database=Database(db_url))
        service = stack.enter_context(serve(app, service_port))
        say(f"  service    {service}  (API + job worker)")
        http = stack.enter_context(httpx.Client(timeout=STEP_TIMEOUT_S))
        yield Stack(service, emulator, crm_url, crm, settings, app, http)


def post_event(stack: Stack, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    assert stack.settings.crm.signing_secret is not None
    signature = sign(stack.settings.crm.signing_secret.get_secret_value(), body, int(time.time()))
    answer = stack.http.post(
        f"{stack.service}/v1/crm/events",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )
    if answer.status_code != 202:
        raise DemoError(f"event {payload['id']} answered {answer.status_code}: {answer.text}")


def settled_entries(stack: Stack, location: str, expected: int) -> list[dict[str, Any]]:
    url = f"{stack.service}/v1/connections/{location}/sync-log"

    def done() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = stack.http.get(url, headers=stack.auth).json()["entries"]
        crm_side = [e for e in entries if e["direction"] == "crm_to_qbo"]
        settled = [e for e in crm_side if e["state"] != "pending"]
        return settled if len(settled) >= expected else None

    return wait_for(f"the sync of {location}'s events", done)


def qbo_total(stack: Stack, realm: str, entity: str, qbo_id: str | None) -> Decimal | None:
    found = qbo_object(stack, realm, entity, lambda item: str(item.get("Id")) == str(qbo_id))
    return None if found is None else Decimal(str(found["TotalAmt"]))


def money_text(value: Decimal | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def has_card_link(app: FastAPI) -> bool:
    # The integration card is built separately; link to it only when this build serves it. The
    # OpenAPI paths are read because included routers are wrapped and hide their own paths.
    return CARD_LINK_PATH in app.openapi().get("paths", {})


def qbo_object(
    stack: Stack, realm: str, entity: str, match: Callable[[dict[str, Any]], bool]
) -> Any:
    listing = stack.http.get(f"{stack.emulator}/_emulator/companies/{realm}/entities/{entity}")
    return next((item for item in listing.json().get(entity, []) if match(item)), None)
