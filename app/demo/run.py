"""`qbo-sync demo`: the whole path on one machine, nothing configured.

Starts an embedded PostgreSQL (a temporary directory unless --data-dir), the QBO emulator with
auto-consent, the service with its worker and a stand-in CRM (app.demo.crm), each on a free port
of 127.0.0.1 in a thread of this process (app/demo/stack.py). Then, as a CRM would: connects a US
and a UK company through the real OAuth redirects, waits for their contacts to be imported, posts
signed events for each (an invoice sent, partially paid, paid; another sent then voided; an
order-form payment, then part of it refunded), edits the customer "in QuickBooks" (the emulator's
webhook reaches the service), waits for the review request, and prints what QuickBooks and the
CRM ended up with, step by step. Everything stops and is removed at the end unless --keep-running.
"""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from rich.table import Table

from app.demo.crm import RETURN_PATH
from app.demo.data import (
    COMPANIES,
    Company,
    events,
    payments_events,
    refund_events,
    voided_events,
)
from app.demo.stack import (
    CARD_LINK_PATH,
    DemoError,
    Stack,
    has_card_link,
    money_text,
    post_event,
    qbo_object,
    qbo_total,
    running,
    say,
    settled_entries,
    wait_for,
)
from app.logging import configure_logging

SEEDED_CUSTOMERS = 3


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
        qbo_side = f"{entity} {entry['qbo_id']}: {money_text(total)} ({verdict})"
        stack.rows.append(
            (company.country, entry["kind"], f"{crm_total} {company.currency}", qbo_side)
        )
        say(
            f"  {entry['kind']:<12} {entry['state']}: CRM {crm_total} {company.currency}"
            f" = QBO {entity} {entry['qbo_id']} total {money_text(total)}  {verdict}"
        )
    return lifecycle(stack, company, realm, posted[0]["data"]) and ok


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
    refunded = refund(stack, company, realm)
    return (
        paid
        and voided
        and refunded
        and changed_in_qbo(stack, company, realm)
        and review_sent(stack, company)
    )


def refund(stack: Stack, company: Company, realm: str) -> bool:
    """Part of the order-form payment refunded: a RefundReceipt of exactly that amount."""
    for payload in refund_events(company):
        post_event(stack, payload)
    entries = settled_entries(stack, company.location, 7)
    entry = next((e for e in entries if e["kind"] == "refund"), None)
    qbo_id = entry["qbo_id"] if entry else None
    total = qbo_total(stack, realm, "RefundReceipt", qbo_id)
    amount = Decimal(company.refund_amount)
    ok = entry is not None and entry["state"] == "synced" and total == amount
    stack.rows.append((company.country, "payment refunded", f"{amount} {company.currency}",
                       f"RefundReceipt {qbo_id}: {money_text(total)}"))  # fmt: skip
    say(f"  refunded     {amount} {company.currency} of the payment: QBO RefundReceipt {qbo_id}"
        f" total {money_text(total)}  {'ok' if ok else 'MISMATCH'}")  # fmt: skip
    return ok


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
    # Per company: invoice, sales receipt, two payments, the voided invoice sent then voided, and
    # the refund.
    expected = 7 * len(COMPANIES)

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
