"""`qbo-sync demo`: the whole path on one machine, nothing configured.

Starts an embedded PostgreSQL (a temporary directory unless --data-dir), the QBO emulator with
auto-consent, the service with its worker and a stand-in CRM (app.demo.crm), each on a free port
of 127.0.0.1 in a thread of this process. Then, as a CRM would: connects a US and a UK company
through the real OAuth redirects, waits for their contacts to be imported, posts signed events for
each (an invoice sent, partially paid, paid; another sent then voided; an order-form payment),
edits the customer "in QuickBooks" (the emulator's webhook reaches the service), waits for the
review request, and prints what QuickBooks and the CRM ended up with, step by step.
Everything stops and is removed at the end unless --keep-running.
"""

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
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from app.config import CrmSettings, QboSettings, Settings
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from app.db.provision import Database
from app.demo.crm import CALLBACK_PATH, RETURN_PATH, DemoCrm
from app.demo.data import COMPANIES, Company, events, payments_events, voided_events
from app.integrations.crm.signatures import sign
from app.logging import configure_logging
from app.main import create_app
from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.config import EmulatorConfig

T = TypeVar("T")
STEP_TIMEOUT_S = 30.0
SEEDED_CUSTOMERS = 3
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
        qbo=QboSettings(
            client_id="emulator-client-id",
            client_secret=SecretStr("emulator-client-secret"),
            webhook_verifier_token=SecretStr("emulator-verifier-token"),
            redirect_uri=f"http://127.0.0.1:{port}/v1/oauth/callback",
            api_base_url=emulator,
            oauth_base_url=emulator,
        ),
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


def connect(stack: Stack, company: Company) -> str:
    """A new emulator company with seeded customers, connected through the real redirects."""
    created = stack.http.post(f"{stack.emulator}/_emulator/companies", json=company.create)
    realm: str = created.json()["realm_id"]
    seed = {"customers": SEEDED_CUSTOMERS, "invoices": 0}
    stack.http.post(f"{stack.emulator}/_emulator/companies/{realm}/seed", json=seed)
    started = stack.http.post(
        f"{stack.service}/v1/connections",
        json={
            "location_id": company.location,
            "return_url": stack.crm_url + RETURN_PATH,
            "review_automation": True,
        },
        headers=stack.auth,
    )
    if started.status_code != 201:
        raise DemoError(f"POST /v1/connections answered {started.status_code}: {started.text}")
    url = started.json()["connect_url"]
    for _ in range(10):
        if url.startswith(stack.crm_url):
            break
        answer = stack.http.get(url)
        if answer.status_code not in (302, 303, 307):
            raise DemoError(f"the connect flow stopped at {url}: HTTP {answer.status_code}")
        url = answer.headers["location"]
    query = parse_qs(urlsplit(url).query)
    if query.get("status") != ["connected"]:
        raise DemoError(f"the connect flow came back without connecting: {url}")
    return realm


def describe(stack: Stack, location: str) -> dict[str, Any]:
    answer = stack.http.get(f"{stack.service}/v1/connections/{location}", headers=stack.auth)
    view: dict[str, Any] = answer.json()
    return view


def imported_contacts(stack: Stack, company: Company) -> int:
    def done() -> dict[str, Any] | None:
        view = describe(stack, company.location)
        state = str(view["import"]["state"])
        if state.startswith(("failed", "paused")):
            raise DemoError(f"the import of {company.location} stopped: {view['import']}")
        return view if state == "done" else None

    view = wait_for(f"the contact import of {company.location}", done)
    progress = view["import"]["progress"].get("customers", {})
    return int(progress.get("done", 0))


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
    listing = stack.http.get(f"{stack.emulator}/_emulator/companies/{realm}/entities/{entity}")
    for item in listing.json().get(entity, []):
        if str(item.get("Id")) == str(qbo_id):
            return Decimal(str(item["TotalAmt"]))
    return None


def _money(value: Decimal | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def has_card_link(app: FastAPI) -> bool:
    # The integration card is built separately; link to it only when this build serves it. The
    # OpenAPI paths are read because included routers are wrapped and hide their own paths.
    return CARD_LINK_PATH in app.openapi().get("paths", {})


def sync_company(stack: Stack, company: Company) -> bool:
    """Connect, import, post, check; True when every step came out as expected."""
    say(f"\n{company.label}  [location {company.location}]")
    realm = connect(stack, company)
    view = describe(stack, company.location)
    say(f"  connected    realm {realm}, {view['company']['name']}, {view['status']}")
    stack.rows.append(
        (company.country, "connect", "location " + company.location, "realm " + realm)
    )
    imported = imported_contacts(stack, company)
    say(f"  imported     {imported} contacts from QuickBooks")
    stack.rows.append((company.country, "import", f"{imported} contacts", f"{imported} customers"))
    posted = events(company)
    for payload in posted:
        post_event(stack, payload)
    say(f"  posted       {', '.join(p['type'] for p in posted)} (signed CRM events)")
    ok = True
    expected = {"invoice": company.invoice_totals, "sales_receipt": company.payment_totals}
    for entry in settled_entries(stack, company.location, len(posted)):
        entity = "Invoice" if entry["kind"] == "invoice" else "SalesReceipt"
        crm_total = Decimal(expected.get(entry["kind"], {"total": "0"})["total"])
        total = qbo_total(stack, realm, entity, entry["qbo_id"])
        matches = entry["state"] == "synced" and total == crm_total
        ok = ok and matches
        verdict = "to the cent" if matches else f"MISMATCH ({entry.get('message')})"
        stack.rows.append((company.country, entry["kind"], f"{crm_total} {company.currency}",
                           f"{entity} {entry['qbo_id']}: {_money(total)} ({verdict})"))  # fmt: skip
        say(
            f"  {entry['kind']:<12} {entry['state']}: CRM {crm_total} {company.currency}"
            f" = QBO {entity} {entry['qbo_id']} total {_money(total)}  {verdict}"
        )
    return lifecycle(stack, company, realm, posted[0]["data"]) and ok


def qbo_object(
    stack: Stack, realm: str, entity: str, match: Callable[[dict[str, Any]], bool]
) -> Any:
    listing = stack.http.get(f"{stack.emulator}/_emulator/companies/{realm}/entities/{entity}")
    return next((item for item in listing.json().get(entity, []) if match(item)), None)


def lifecycle(stack: Stack, company: Company, realm: str, invoice: dict[str, Any]) -> bool:
    """Payments, a void, a change made in QuickBooks and the review request it leads to."""
    for payload in payments_events(company, invoice):
        post_event(stack, payload)
    settled_entries(stack, company.location, 4)
    first = qbo_object(stack, realm, "Invoice", lambda i: i.get("DocNumber") == invoice["number"])
    paid = first is not None and Decimal(str(first["Balance"])) == 0
    stack.rows.append((company.country, "invoice paid", "partially paid, then paid",
                       f"2 Payments, balance {first and first['Balance']}"))  # fmt: skip
    say(f"  paid         in two parts; QBO invoice balance {first and first['Balance']}"
        f"  {'ok' if paid else 'NOT PAID'}")  # fmt: skip
    for payload in voided_events(company, invoice):
        post_event(stack, payload)
    settled_entries(stack, company.location, 6)
    number = f"{company.country}-1002"
    second = qbo_object(stack, realm, "Invoice", lambda i: i.get("DocNumber") == number)
    voided = second is not None and Decimal(str(second["TotalAmt"])) == 0
    stack.rows.append((company.country, "invoice voided", f"{number} voided",
                       f"voided, total {second and second['TotalAmt']}"))  # fmt: skip
    say(f"  voided       invoice {company.country}-1002 total {second and second['TotalAmt']}"
        f"  {'ok' if voided else 'NOT VOIDED'}")  # fmt: skip
    return paid and voided and changed_in_qbo(stack, company, realm) and review_sent(stack, company)


def changed_in_qbo(stack: Stack, company: Company, realm: str) -> bool:
    email = f"jo@{company.location}.example.com"

    def has_email(customer: dict[str, Any]) -> bool:
        return bool((customer.get("PrimaryEmailAddr") or {}).get("Address") == email)

    customer = qbo_object(stack, realm, "Customer", has_email)
    if customer is None:
        raise DemoError(f"no QuickBooks customer with {email}")
    phone = "+44 20 7946 0000" if company.country == "GB" else "+1 555 0142"
    stack.http.patch(
        f"{stack.emulator}/_emulator/companies/{realm}/entities/Customer/{customer['Id']}",
        json={"PrimaryPhone": {"FreeFormNumber": phone}},
    )

    def arrived() -> bool | None:
        for body in stack.crm.received("contact.upsert"):
            for contact in body["data"].get("contacts", []):
                if (
                    contact.get("qbo_customer_id") == customer["Id"]
                    and contact.get("phone") == phone
                ):
                    return True
        return None

    wait_for(f"the QuickBooks change of {email} to reach the CRM", arrived)
    say(f"  QBO change   {customer['DisplayName']}'s phone edited in QuickBooks -> CRM contact")
    stack.rows.append((company.country, "QBO change", f"contact.upsert, phone {phone}",
                       f"Customer {customer['Id']} edited"))  # fmt: skip
    return True


def review_sent(stack: Stack, company: Company) -> bool:
    def sent() -> dict[str, Any] | None:
        bodies = [b for b in stack.crm.received("review_request.send")
                  if b.get("location_id") == company.location]  # fmt: skip
        return bodies[0] if bodies else None

    body = wait_for(f"the review request of {company.location}", sent)
    say(f"  review       review_request.send for {body['data'].get('email') or body['data']}")
    stack.rows.append((company.country, "review request", "review_request.send",
                       "first invoice paid in full"))  # fmt: skip
    return True


def callbacks_received(stack: Stack) -> int:
    # Per company: invoice, sales receipt, two payments and the voided invoice sent then voided.
    expected = 6 * len(COMPANIES)

    def done() -> int | None:
        count = len(stack.crm.received("sync.result"))
        return count if count >= expected else None

    results = wait_for("the sync.result callbacks", done)
    say(f"\nCRM received {len(stack.crm.received())} signed callbacks ({results} sync.result):")
    for type_ in sorted({body["type"] for body in stack.crm.received()}):
        say(f"  {type_:<20} {len(stack.crm.received(type_))}")
    return results


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    table = Table(title="What happened on each side", show_lines=False)
    for column in ("company", "step", "CRM", "QuickBooks"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)


def where_to_look(stack: Stack, *, keep_running: bool) -> None:
    say(
        "\nWhere to look"
        + ("" if keep_running else " (rerun with --keep-running to open these)")
        + ":"
    )
    for company in COMPANIES:
        say(f"  sync log     {stack.service}/v1/connections/{company.location}/sync-log")
        if has_card_link(stack.app):
            path = CARD_LINK_PATH.format(location_id=company.location)
            answer = stack.http.post(stack.service + path, headers=stack.auth)
            if answer.status_code < 300:
                say(f"  card         {answer.json().get('url', answer.text)}")
    say(f"  metrics      {stack.service}/metrics")
    say(f"  API key      {stack.auth['Authorization']}  (sync-log and connections need it)")


def run_demo(*, data_dir: str | None = None, keep_running: bool = False) -> int:
    configure_logging("WARNING")
    started = time.monotonic()
    say("qbo-sync demo: starting everything on this machine")
    try:
        with running(Path(data_dir) if data_dir else None) as stack:
            ok = all([sync_company(stack, company) for company in COMPANIES])
            callbacks_received(stack)
            print_table(stack.rows)
            where_to_look(stack, keep_running=keep_running)
            if keep_running:
                say("\nRunning until Ctrl-C.")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(1)
            say("\nStopping and cleaning up...")
    except DemoError as exc:
        say(f"\nDemo failed: {exc}")
        return 1
    elapsed = time.monotonic() - started
    say(f"Demo {'finished' if ok else 'finished with mismatches'} in {elapsed:.1f} s.")
    return 0 if ok else 1
