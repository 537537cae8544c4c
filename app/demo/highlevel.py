"""`qbo-sync demo --crm highlevel`: the HighLevel story through both stand-ins, on one machine.

Starts an embedded PostgreSQL, the QBO emulator and the HighLevel stand-in (highlevel_emulator,
its webhooks signed with its own Ed25519 key, which the service is given), and the service with its
worker. Then: the app is installed on a HighLevel sub-account (our install link → HighLevel's page →
our redirect URL → the card); QuickBooks is connected from the card with both toggles on; the
QuickBooks customers imported become HighLevel contacts; an invoice is sent and paid in HighLevel
and reaches QuickBooks as an invoice and a payment; a customer changed in QuickBooks updates its
HighLevel contact; the first paid invoice tags the contact for the review workflow.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.config import CrmSettings, HighLevelSettings, Settings
from app.db import migrate
from app.db.provision import Database
from app.demo.stack import (
    STEP_TIMEOUT_S,
    DemoError,
    _database,
    emulator_qbo,
    free_port,
    say,
    serve,
    wait_for,
)
from app.logging import configure_logging
from app.main import create_app
from highlevel_emulator.app import create_app as create_highlevel
from highlevel_emulator.config import HighLevelEmulatorConfig
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.config import EmulatorConfig

LOCATION = "demoHighLevel1"
REVIEW_TAG = "qbo-first-invoice-paid"
SEEDED_CUSTOMERS = 3


@dataclass
class HlStack:
    service: str
    qbo: str
    hl: str
    settings: Settings
    http: httpx.Client
    steps: list[tuple[str, str]]

    def step(self, name: str, what: str) -> None:
        self.steps.append((name, what))
        say(f"  {name:<14} {what}")


def _settings(
    db_url: str, data_dir: Path, qbo: str, hl: str, port: int, hl_key: str, hl_config: Any
) -> Settings:
    service = f"http://127.0.0.1:{port}"
    return Settings(
        DATABASE_URL=db_url,
        QBS_DATA_DIR=data_dir,
        QBS_AUTO_MIGRATE=False,
        PUBLIC_BASE_URL=service,
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING",
        crm=CrmSettings(
            signing_secret=SecretStr(secrets.token_urlsafe(32)),
            api_key=SecretStr(secrets.token_urlsafe(32)),
            # No CRM_CALLBACK_URL: the HighLevel location's callbacks go to HighLevel's API.
            return_url_origins=[service],
        ),
        qbo=emulator_qbo(qbo, service),
        highlevel=HighLevelSettings(
            client_id=hl_config.client_id,
            client_secret=SecretStr(hl_config.client_secret),
            api_base_url=hl,
            oauth_base_url=hl,
            webhook_public_key=hl_key,
        ),
    )


@contextlib.contextmanager
def running(data_dir: Path | None) -> Iterator[HlStack]:
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(_database(data_dir))
        migrate.upgrade(db_url)
        say("  database       PostgreSQL (embedded), migrated")
        qbo_port, hl_port, service_port = free_port(), free_port(), free_port()
        service_url = f"http://127.0.0.1:{service_port}"
        qbo_config = EmulatorConfig(
            base_url=f"http://127.0.0.1:{qbo_port}",
            auto_consent=True,
            webhook_url=f"{service_url}/v1/qbo/webhooks",
        )
        qbo = stack.enter_context(serve(create_emulator(qbo_config), qbo_port))
        say(f"  QuickBooks     {qbo}  (QBO stand-in, auto-consent)")
        hl_config = HighLevelEmulatorConfig(
            base_url=f"http://127.0.0.1:{hl_port}",
            auto_consent=True,
            webhook_url=f"{service_url}/v1/highlevel/webhooks",
            # Only the changes a person makes in HighLevel fire webhooks here; whether HighLevel
            # sends webhooks for an app's own API writes is UNKNOWN (the stand-in's README).
            api_writes_fire_webhooks=False,
        )
        hl = stack.enter_context(serve(create_highlevel(hl_config), hl_port))
        say(f"  HighLevel      {hl}  (HighLevel stand-in, signed webhooks)")
        http = stack.enter_context(httpx.Client(timeout=STEP_TIMEOUT_S))
        key = http.get(f"{hl}/_emulator/webhook-public-key").json()["pem"]
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qbs-demo-hl-")))
        settings = _settings(db_url, state_dir, qbo, hl, service_port, key, hl_config)
        settings.worker.poll_interval_s = 0.1
        app = create_app(settings, run_worker=True, database=Database(db_url))
        service = stack.enter_context(serve(app, service_port))
        say(f"  service        {service}  (API + job worker)")
        yield HlStack(service, qbo, hl, settings, http, [])


def _follow(http: httpx.Client, url: str, stop_at: str, limit: int = 10) -> str:
    for _ in range(limit):
        if url.startswith(stop_at):
            return url
        answer = http.get(url)
        if answer.status_code not in (302, 303, 307):
            raise DemoError(f"the redirects stopped at {url}: HTTP {answer.status_code}")
        url = urljoin(url, answer.headers["location"])
    raise DemoError(f"too many redirects from {url}")


def install(s: HlStack) -> str:
    """Install the app on the sub-account; returns the card URL the admin lands on."""
    s.http.post(f"{s.hl}/_emulator/locations", json={"location_id": LOCATION, "name": "Demo Spa"})
    start = s.http.get(f"{s.service}/v1/highlevel/install")
    choose = start.headers["location"] + f"&location_id={LOCATION}"
    back = _follow(s.http, choose, f"{s.service}/v1/highlevel/oauth/callback")
    answer = s.http.get(back)
    if answer.status_code != 303:
        raise DemoError(f"the install ended with HTTP {answer.status_code}: {answer.text[:200]}")
    card = s.service + answer.headers["location"]
    s.step("install", f"app installed on sub-account {LOCATION}; card: {card[:70]}...")
    return card


def connect_qbo(s: HlStack, card: str) -> str:
    created = s.http.post(
        f"{s.qbo}/_emulator/companies", json={"country": "US", "name": "Demo Spa"}
    )
    realm: str = created.json()["realm_id"]
    seed = {"customers": SEEDED_CUSTOMERS, "invoices": 0}
    s.http.post(f"{s.qbo}/_emulator/companies/{realm}/seed", json=seed)
    token = parse_qs(urlsplit(card).query)["token"][0]
    form = {"token": token, "import_invoices": "on", "review_automation": "on"}
    answer = s.http.post(f"{s.service}/v1/card/connect", data=form)
    back = _follow(s.http, answer.headers["location"], f"{s.service}/v1/card")
    if parse_qs(urlsplit(back).query).get("status") != ["connected"]:
        raise DemoError(f"QuickBooks was not connected from the card: {back}")
    s.step("connect QBO", f"from the card, both toggles on: realm {realm}")
    return realm


def hl_contacts(s: HlStack) -> list[dict[str, Any]]:
    answer = s.http.get(f"{s.hl}/_emulator/locations/{LOCATION}/contacts")
    contacts: list[dict[str, Any]] = answer.json()["contacts"]
    return contacts


def qbo_entities(s: HlStack, realm: str, entity: str) -> list[dict[str, Any]]:
    listing = s.http.get(f"{s.qbo}/_emulator/companies/{realm}/entities/{entity}").json()
    items: list[dict[str, Any]] = listing.get(entity, [])
    return items


def imported_contacts(s: HlStack, realm: str) -> None:
    customers = [c for c in qbo_entities(s, realm, "Customer") if c.get("PrimaryEmailAddr")]
    emails = {str(c["PrimaryEmailAddr"]["Address"]).lower() for c in customers}

    def arrived() -> int | None:
        have = {str(c.get("email", "")).lower() for c in hl_contacts(s)}
        return len(emails & have) if emails <= have else None

    count = wait_for("the imported customers to become HighLevel contacts", arrived)
    s.step("import", f"{count} QuickBooks customers -> HighLevel contacts (upserted by email)")


def invoice_in_highlevel(s: HlStack, realm: str) -> dict[str, Any]:
    contact: dict[str, Any] = s.http.post(
        f"{s.hl}/_emulator/locations/{LOCATION}/contacts",
        json={"firstName": "Jo", "lastName": "Rivera", "email": "jo.rivera@demo-spa.example"},
    ).json()
    invoice = s.http.post(
        f"{s.hl}/_emulator/locations/{LOCATION}/invoices",
        json={
            "contact_id": contact["id"],
            "currency": "USD",
            "invoiceNumber": "HL-1001",
            "items": [{"name": "Massage (60 min)", "qty": 2, "amount": 45.5}],
        },
    ).json()
    s.http.post(f"{s.hl}/_emulator/locations/{LOCATION}/invoices/{invoice['_id']}/send")
    s.http.post(f"{s.hl}/_emulator/locations/{LOCATION}/invoices/{invoice['_id']}/pay", json={})
    s.http.post(f"{s.hl}/_emulator/webhooks/flush")

    def paid_in_qbo() -> dict[str, Any] | None:
        for item in qbo_entities(s, realm, "Invoice"):
            if Decimal(str(item.get("TotalAmt"))) == Decimal("91.00") and Decimal(
                str(item.get("Balance"))
            ) == Decimal("0"):
                return item
        return None

    qbo_invoice = wait_for("HighLevel's paid invoice to reach QuickBooks", paid_in_qbo)
    payments = qbo_entities(s, realm, "Payment")
    s.step(
        "invoice",
        f"sent and paid in HighLevel -> QBO Invoice {qbo_invoice['Id']} "
        f"(DocNumber {qbo_invoice.get('DocNumber')}, total 91.00, balance 0, "
        f"{len(payments)} Payment)",
    )
    return contact


def customer_changed_in_qbo(s: HlStack, realm: str) -> None:
    customers = [c for c in qbo_entities(s, realm, "Customer") if c.get("PrimaryEmailAddr")]
    customer = customers[0]
    phone = "+1 555 0199"
    s.http.patch(
        f"{s.qbo}/_emulator/companies/{realm}/entities/Customer/{customer['Id']}",
        json={"PrimaryPhone": {"FreeFormNumber": phone}},
    )
    email = str(customer["PrimaryEmailAddr"]["Address"]).lower()

    def updated() -> bool | None:
        for contact in hl_contacts(s):
            if str(contact.get("email", "")).lower() == email and contact.get("phone") == phone:
                return True
        return None

    wait_for("the QuickBooks change to reach the HighLevel contact", updated)
    s.step("QBO change", f"{customer['DisplayName']}'s phone edited in QuickBooks -> contact")


def review_tag(s: HlStack, contact: dict[str, Any]) -> None:
    def tagged() -> list[str] | None:
        for item in hl_contacts(s):
            if item["id"] == contact["id"] and REVIEW_TAG in item.get("tags", []):
                return list(item["tags"])
        return None

    tags = wait_for("the review tag on the paying contact", tagged)
    s.step("review", f"first invoice paid -> tag {REVIEW_TAG!r} on Jo Rivera ({tags})")


def run_highlevel_demo(*, data_dir: str | None = None, keep_running: bool = False) -> int:
    configure_logging("WARNING")
    started = time.monotonic()
    say("qbo-sync demo --crm highlevel: starting everything on this machine")
    try:
        with running(Path(data_dir) if data_dir else None) as s:
            card = install(s)
            realm = connect_qbo(s, card)
            imported_contacts(s, realm)
            contact = invoice_in_highlevel(s, realm)
            customer_changed_in_qbo(s, realm)
            review_tag(s, contact)
            say(f"\nCard (30 minutes): {card}")
            if keep_running:
                say("Running until Ctrl-C.")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(1)
            say("\nStopping and cleaning up...")
    except DemoError as exc:
        say(f"\nDemo failed: {exc}")
        return 1
    say(f"Demo finished in {time.monotonic() - started:.1f} s.")
    return 0
