"""A reusable CRM workload: build a mixed event set, post it, wait for the worker, check QBO.

`build_workload` makes, per location, contacts with invoices that go through their lives (sent,
updated, partially paid, paid, voided; some paid through a payment event of the invoice),
standalone payments (sales receipts) and contact updates, each invoice snapshot with a newer
`updated_at` than the one before. It also works out what QuickBooks must hold afterwards.
`connect_locations` connects each location through the real OAuth flow, `post_all` signs and
posts, `settle` waits for the worker. `check_events` and `check_qbo` return every problem found,
in words: lost or stuck events, failures without a reason, duplicate QBO objects, totals and
balances off by a cent; `projection` is a company as a person would compare two of them.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, text

from app.db.session import SessionFactory
from app.integrations.crm.signatures import sign
from app.models import CrmEvent, SyncLogEntry
from app.models.states import InboundState
from tests.e2e.sync_helpers import Qbo
from tests.fixtures.app import SIGNING_SECRET
from tests.fixtures.connect import browse, describe, start_connect

CENT = Decimal("0.01")
LINE_NAMES = ("Consulting", "Workshop", "Support plan", "Travel")
# Far in the future, so every invoice counts as created after its location was connected.
EPOCH = datetime(2099, 1, 1, tzinfo=UTC)
# Invoice lives, as the steps of their snapshots (weights favour the common ones).
LIVES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("sent",), 3),
    (("sent", "updated"), 2),
    (("sent", "partial"), 2),
    (("sent", "partial", "paid"), 3),
    (("sent", "paid"), 2),
    (("sent", "updated", "partial", "paid"), 2),
    (("sent", "voided"), 1),
    (("sent", "partial", "voided"), 1),
)
STEP_TYPES = {
    "sent": ("invoice.sent", "sent"),
    "updated": ("invoice.updated", "sent"),
    "partial": ("invoice.partially_paid", "partially_paid"),
    "paid": ("invoice.paid", "paid"),
    "voided": ("invoice.voided", "void"),
}
TERMINAL = (InboundState.DONE, InboundState.SKIPPED, InboundState.FAILED)


# --- what QuickBooks must hold afterwards ------------------------------------------------------
@dataclass
class ExpectedInvoice:
    number: str
    email: str
    total: Decimal
    amount_paid: Decimal
    voided: bool

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.amount_paid


@dataclass
class Expected:
    """One location's QuickBooks company after every event of the workload was applied."""

    # Lower-cased email -> the contact as the CRM last sent it.
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, ExpectedInvoice] = field(default_factory=dict)
    # CRM payment id -> (reference, total, email) of its sales receipt.
    receipts: dict[str, tuple[str, Decimal, str]] = field(default_factory=dict)
    items: set[str] = field(default_factory=set)


@dataclass
class Workload:
    events: list[dict[str, Any]]
    expected: dict[str, Expected]

    def for_location(self, location: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["location_id"] == location]


# --- building it -------------------------------------------------------------------------------
def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _contact(location: str, n: int) -> dict[str, Any]:
    # Every third one has an apostrophe: QBO queries must escape it (docs/design.md §3, security).
    family = f"O'Brien {n}" if n % 3 == 0 else f"Smith {n}"
    local = f"o'brien.{n}" if n % 3 == 0 else f"smith.{n}"
    return {
        "id": f"{location}-c{n}",
        "email": f"{local}@{location.replace('_', '-')}.example.com",
        "first_name": "Pat",
        "last_name": family,
        "company_name": None,
        "phone": f"+1 555 01{n:02d}",
        "address": None,
    }


def _lines(rng: random.Random) -> list[dict[str, Any]]:
    names = rng.sample(LINE_NAMES, rng.choice((1, 1, 2)))
    return [
        {
            "name": name,
            "description": None,
            "quantity": rng.randint(1, 3),
            "unit_price": money(Decimal(rng.randint(500, 15000)) / 100),
            "taxes": [],
        }
        for name in names
    ]


def _total(lines: Sequence[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))


def _totals(total: Decimal, paid: Decimal | None = None) -> dict[str, str]:
    totals = {"subtotal": money(total), "discount": "0.00", "tax": "0.00", "total": money(total)}
    if paid is not None:
        totals |= {"amount_paid": money(paid), "amount_due": money(total - paid)}
    return totals


def _envelope(event_id: str, type_: str, location: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": type_,
        "occurred_at": "2099-01-01T00:00:00Z",
        "location_id": location,
        "data": data,
    }


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class _LocationBuilder:
    def __init__(self, location: str, rng: random.Random, contacts: int, changes: bool) -> None:
        self.location = location
        self.rng = rng
        self.contacts = {n: _contact(location, n) for n in range(contacts)}
        self.changes = changes
        self.expected = Expected()
        self.events: list[dict[str, Any]] = []
        self.counter = 0

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.location}-{prefix}{self.counter}"

    def _billable(self, contact: dict[str, Any]) -> None:
        self.expected.customers[contact["email"].lower()] = contact

    def invoice(self) -> None:
        contact = self.contacts[self.rng.randrange(len(self.contacts))]
        self._billable(contact)
        invoice_id = self._next("inv")
        number = f"N{self.counter}"
        lines = _lines(self.rng)
        steps = self.rng.choices([life for life, _ in LIVES], [w for _, w in LIVES])[0]
        at = EPOCH + timedelta(minutes=self.counter)
        paid = Decimal(0)
        for step in steps:
            at += timedelta(seconds=1)
            if step == "updated":
                lines = [{**lines[0], "quantity": lines[0]["quantity"] + 1}, *lines[1:]]
            total = _total(lines)
            if step == "partial":
                paid = (total * Decimal("0.4")).quantize(CENT)
            elif step == "paid":
                paid = total
            type_, status = STEP_TYPES[step]
            data = {
                "id": invoice_id,
                "number": number,
                "status": status,
                "issue_date": "2099-01-01",
                "due_date": "2099-02-01",
                "created_at": _stamp(EPOCH),
                "updated_at": _stamp(at),
                "currency": "USD",
                "contact": contact,
                "billing_email": contact["email"],
                "line_items": lines,
                "discount": None,
                "totals": _totals(total, paid),
            }
            self.events.append(_envelope(f"{invoice_id}-{step}", type_, self.location, data))
        self.expected.items.update(line["name"] for line in lines)
        self.expected.invoices[invoice_id] = ExpectedInvoice(
            number, contact["email"].lower(), _total(lines), paid, steps[-1] == "voided"
        )
        if paid and self.rng.random() < 0.5:
            # The CRM's own payment record of the invoice: never a sales receipt (S2).
            self.events.append(self._payment(contact, invoice_id))

    def _payment(self, contact: dict[str, Any], invoice_id: str | None) -> dict[str, Any]:
        payment_id = self._next("pay")
        lines = _lines(self.rng)
        reference = f"ch{self.counter}"
        data = {
            "id": payment_id,
            "source": "invoice"
            if invoice_id
            else self.rng.choice(("order_form", "subscription", "membership", "calendar")),
            "invoice_id": invoice_id,
            "paid_at": _stamp(EPOCH + timedelta(minutes=self.counter)),
            "currency": "USD",
            "contact": contact,
            "line_items": lines,
            "discount": None,
            "totals": _totals(_total(lines)),
            "payment_method": "card",
            "reference": reference,
        }
        if invoice_id is None:
            self._billable(contact)
            self.expected.items.update(line["name"] for line in lines)
            self.expected.receipts[payment_id] = (
                reference,
                _total(lines),
                contact["email"].lower(),
            )
        return _envelope(f"{payment_id}-ok", "payment.succeeded", self.location, data)

    def payment(self) -> None:
        contact = self.contacts[self.rng.randrange(len(self.contacts))]
        self.events.append(self._payment(contact, None))

    def contact_update(self) -> None:
        n = self.rng.randrange(len(self.contacts))
        contact = self.contacts[n]
        if self.changes:
            # A new phone: the linked QBO customer is updated (against users' edits there).
            contact = {**contact, "phone": f"+1 555 02{self.counter % 100:02d}"}
            self.contacts[n] = contact
            if contact["email"].lower() in self.expected.customers:
                self._billable(contact)
        self.events.append(
            _envelope(self._next("contact"), "contact.updated", self.location, contact)
        )


def build_workload(
    locations: Sequence[str], events: int, *, seed: int = 8, contact_changes: bool = True
) -> Workload:
    """About `events` events over the locations (whole invoice lives, so a few more).

    With `contact_changes` false, contact updates repeat what the CRM sent before, so the final
    customer fields do not depend on which of a contact's events the worker ran last.
    """
    rng = random.Random(seed)
    per_location = max(1, events // len(locations))
    builders = [
        _LocationBuilder(loc, rng, max(3, per_location // 5), contact_changes) for loc in locations
    ]
    for builder in builders:
        while len(builder.events) < per_location:
            story = rng.choices(
                (builder.invoice, builder.payment, builder.contact_update), (6, 2, 1)
            )[0]
            story()
    # Interleave the locations, each keeping its own order, as a CRM backend would send them.
    queues = [list(b.events) for b in builders]
    ordered: list[dict[str, Any]] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return Workload(ordered, {b.location: b.expected for b in builders})


def relocate(workload: Workload, mapping: dict[str, str]) -> Workload:
    """The same workload for other locations (the ids stay: they are unique per location)."""
    events = [{**e, "location_id": mapping[e["location_id"]]} for e in workload.events]
    return Workload(events, {mapping[k]: v for k, v in workload.expected.items()})


# --- connecting and posting --------------------------------------------------------------------
@dataclass(frozen=True)
class Location:
    location_id: str
    realm_id: str


async def connect_locations(
    http: httpx.AsyncClient, service: str, emulator: str, names: Iterable[str]
) -> list[Location]:
    """Each location connected through the real OAuth flow to a US company of its own.

    One at a time: with auto-consent the emulator picks the newest company.
    """
    connected = []
    for name in names:
        created = await http.post(f"{emulator}/_emulator/companies", json={"name": name})
        assert created.status_code == 201, created.text
        realm = created.json()["realm_id"]
        link = await start_connect(service, name)
        visited = await browse(link["connect_url"])
        assert "status=connected" in visited[-1], visited
        assert (await describe(service, name))["realm_id"] == realm
        connected.append(Location(name, realm))
    for location in connected:
        await imported(service, location.location_id)
    return connected


async def imported(service: str, location: str, timeout_s: float = 60) -> None:
    """Wait for the connect-time import, so faults armed next hit only the CRM events' work."""
    deadline = time.monotonic() + timeout_s
    while (state := (await describe(service, location))["import"]["state"]) != "done":
        assert time.monotonic() < deadline, f"{location}: import still {state}"
        await asyncio.sleep(0.1)


async def post_event(http: httpx.AsyncClient, service: str, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Signature": sign(SIGNING_SECRET, body, int(time.time())),
    }
    response = await http.post(f"{service}/v1/crm/events", content=body, headers=headers)
    return response.status_code


def crm_object(payload: dict[str, Any]) -> tuple[str, str]:
    """The CRM object an event is about (a payment of an invoice belongs to the invoice)."""
    data = payload["data"]
    return payload["location_id"], data.get("invoice_id") or data["id"]


def in_object_order(payloads: Sequence[dict[str, Any]], window: int) -> list[list[dict[str, Any]]]:
    """Batches of at most `window` payloads, none with two events of one CRM object.

    Posting a batch at once and the batches one after another keeps the list's order for the
    events of each object, as a CRM backend sending each object's events in turn would.
    """
    batches: list[list[dict[str, Any]]] = [[]]
    objects: set[tuple[str, str]] = set()
    for payload in payloads:
        key = crm_object(payload)
        if len(batches[-1]) >= window or key in objects:
            batches.append([])
            objects.clear()
        batches[-1].append(payload)
        objects.add(key)
    return [batch for batch in batches if batch]


async def post_all(
    http: httpx.AsyncClient,
    services: Sequence[str],
    payloads: Sequence[dict[str, Any]],
    *,
    copies: int = 1,
    window: int = 10,
    object_order: bool = True,
) -> dict[tuple[str, str], list[int]]:
    """Post the payloads `window` at a time, each `copies` times at once, to the replicas in turn.

    With `object_order` (the default) two events of one CRM object are never in flight
    together, so each object's events arrive in list order; without it, any order can arrive.
    Returns the statuses per (location, event id), so callers can check what the CRM was told.
    """
    if object_order:
        batches = in_object_order(payloads, window)
    else:
        batches = [list(payloads[k : k + window]) for k in range(0, len(payloads), window)]
    statuses: dict[tuple[str, str], list[int]] = {}
    sent = 0
    for batch in batches:
        copied = [p for p in batch for _ in range(copies)]
        answers = await asyncio.gather(
            *(
                post_event(http, services[(sent + k) % len(services)], p)
                for k, p in enumerate(copied)
            )
        )
        sent += len(copied)
        for payload, status in zip(copied, answers, strict=True):
            statuses.setdefault((payload["location_id"], payload["id"]), []).append(status)
    return statuses


# --- waiting for the worker --------------------------------------------------------------------
async def settle(db: SessionFactory, expected_events: int, timeout_s: float) -> None:
    """Wait until `expected_events` events are stored and none is pending or processing.

    On the deadline, fails naming the events still waiting and why (their state reason).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as session:
            stored = (await session.execute(select(func.count()).select_from(CrmEvent))).scalar()
            waiting = (
                await session.execute(
                    select(CrmEvent.location_id, CrmEvent.event_id, CrmEvent.state_reason)
                    .where(CrmEvent.state.not_in(TERMINAL))
                    .order_by(CrmEvent.id)
                )
            ).all()
        if stored is not None and stored >= expected_events and not waiting:
            return
        if time.monotonic() > deadline:
            stuck = "\n".join(f"  {loc} {event}: {reason}" for loc, event, reason in waiting[:50])
            sessions = "\n".join(f"  {s}" for s in await stuck_sessions(db))
            raise AssertionError(
                f"{len(waiting)} of {stored} events still pending or processing after "
                f"{timeout_s:.0f} s (expected {expected_events} events):\n{stuck}\n"
                f"database sessions waiting for a lock or idle in a transaction:\n{sessions}"
            )
        await asyncio.sleep(0.5)


_STUCK = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND (wait_event_type = 'Lock' OR state = 'idle in transaction')"
)


async def stuck_sessions(db: SessionFactory) -> list[str]:
    """Sessions waiting for a lock, and those holding theirs while the app awaits something."""
    async with db() as session:
        rows = await session.execute(
            text(f"SELECT state, now() - xact_start, left(query, 160) {_STUCK}")
        )
    return [f"{state} for {age}: {query}" for state, age, query in rows]


async def release_stuck_sessions(db: SessionFactory) -> None:
    """End the database sessions left waiting on each other, so the next test can start."""
    async with db() as session, session.begin():
        await session.execute(text(f"SELECT pg_terminate_backend(pid) {_STUCK}"))


async def terminal_count(db: SessionFactory) -> int:
    async with db() as session:
        count = (
            await session.execute(
                select(func.count()).select_from(CrmEvent).where(CrmEvent.state.in_(TERMINAL))
            )
        ).scalar()
    return int(count or 0)


# --- reading QuickBooks ------------------------------------------------------------------------
@dataclass
class QboState:
    customers: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    receipts: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    items: list[dict[str, Any]]

    @classmethod
    async def read(cls, emulator: str, realm: str) -> QboState:
        qbo = Qbo(emulator, realm)
        return cls(
            *[
                await qbo.all(entity)
                for entity in ("Customer", "Invoice", "SalesReceipt", "Payment", "Item")
            ]
        )


def amount(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def marked(objects: Iterable[dict[str, Any]], kind: str, crm_id: str) -> list[dict[str, Any]]:
    mark = f"[qbo-sync {kind} {crm_id}]"
    return [o for o in objects if mark in (o.get("PrivateNote") or "")]


def _is_void(invoice: dict[str, Any]) -> bool:
    return (invoice.get("PrivateNote") or "").startswith("Voided")


def _linked_payments(state: QboState, invoice_id: str) -> list[dict[str, Any]]:
    return [
        payment
        for payment in state.payments
        if any(
            linked.get("TxnId") == invoice_id and linked.get("TxnType") == "Invoice"
            for line in payment.get("Line", [])
            for linked in line.get("LinkedTxn", [])
        )
    ]


def projection(state: QboState) -> dict[str, Any]:
    """QuickBooks as a person compares two companies: by email, number and reference, not Id."""
    email_of = {
        c["Id"]: (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower()
        for c in state.customers
    }
    return {
        "customers": sorted(
            (
                email_of[c["Id"]],
                c.get("DisplayName"),
                c.get("Active"),
                (c.get("PrimaryPhone") or {}).get("FreeFormNumber"),
            )
            for c in state.customers
        ),
        "invoices": sorted(
            (
                i.get("DocNumber"),
                email_of.get(i["CustomerRef"]["value"]),
                amount(i.get("TotalAmt")),
                amount(i.get("Balance")),
                _is_void(i),
                sum((amount(p["TotalAmt"]) for p in _linked_payments(state, i["Id"])), Decimal(0)),
            )
            for i in state.invoices
        ),
        "receipts": sorted(
            (r.get("PaymentRefNum"), amount(r.get("TotalAmt")), email_of[r["CustomerRef"]["value"]])
            for r in state.receipts
        ),
        "payments_total": sum((amount(p.get("TotalAmt")) for p in state.payments), Decimal(0)),
        "items": sorted(i["Name"] for i in state.items if i.get("Active", True)),
    }


# --- checking ----------------------------------------------------------------------------------
def check_qbo(state: QboState, expected: Expected, *, unsettled: Iterable[str] = ()) -> list[str]:
    """Every difference between a company and what the workload must have made of it.

    `unsettled`: CRM invoice and payment ids with an event that failed for good (with its
    reason); QuickBooks may lag behind the CRM for those, but must not hold them twice.
    """
    lagging = set(unsettled)
    problems: list[str] = []
    emails = Counter(
        (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() for c in state.customers
    )
    for email, count in sorted(emails.items()):
        if count > 1:
            problems.append(f"{count} QBO customers with email {email}")
        if email not in expected.customers:
            problems.append(f"QBO customer {email} has no billable activity in the CRM")
    problems += [f"no QBO customer for {e}" for e in expected.customers if e not in emails]
    email_of = {
        c["Id"]: (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower()
        for c in state.customers
    }

    for crm_id, want in sorted(expected.invoices.items()):
        found = marked(state.invoices, "invoice", crm_id)
        if crm_id in lagging:
            if len(found) > 1:
                problems.append(f"invoice {crm_id}: {len(found)} QBO invoices")
            continue
        if len(found) != 1:
            problems.append(f"invoice {crm_id}: {len(found)} QBO invoices (want 1)")
            continue
        problems += _invoice_problems(state, crm_id, want, found[0], email_of)
    if len(state.invoices) != len(expected.invoices):
        problems.append(f"{len(state.invoices)} QBO invoices for {len(expected.invoices)}")

    for crm_id, (reference, total, email) in sorted(expected.receipts.items()):
        found = marked(state.receipts, "payment", crm_id)
        if crm_id in lagging:
            if len(found) > 1:
                problems.append(f"payment {crm_id}: {len(found)} QBO sales receipts")
            continue
        if len(found) != 1:
            problems.append(f"payment {crm_id}: {len(found)} QBO sales receipts (want 1)")
            continue
        receipt = found[0]
        if amount(receipt.get("TotalAmt")) != total:
            problems.append(f"payment {crm_id}: receipt total {receipt['TotalAmt']} != {total}")
        if receipt.get("PaymentRefNum") != reference:
            problems.append(f"payment {crm_id}: receipt reference {receipt.get('PaymentRefNum')}")
        if email_of.get(receipt["CustomerRef"]["value"]) != email:
            problems.append(f"payment {crm_id}: receipt is not {email}'s")
    if len(state.receipts) != len(expected.receipts):
        problems.append(f"{len(state.receipts)} QBO sales receipts for {len(expected.receipts)}")

    names = Counter(i["Name"] for i in state.items)
    problems += [f"{n} QBO items named {name}" for name, n in names.items() if n > 1]
    problems += [f"no QBO item {name}" for name in sorted(expected.items - set(names))]
    return problems


def _invoice_problems(
    state: QboState,
    crm_id: str,
    want: ExpectedInvoice,
    invoice: dict[str, Any],
    email_of: dict[str, str],
) -> list[str]:
    problems = []
    payments = _linked_payments(state, invoice["Id"])
    paid = sum((amount(p.get("TotalAmt")) for p in payments), Decimal(0))
    marks = Counter(
        note[note.index("[qbo-sync") :]
        for p in payments
        if "[qbo-sync" in (note := p.get("PrivateNote") or "")
    )
    problems += [f"invoice {crm_id}: {n} payments marked {m}" for m, n in marks.items() if n > 1]
    got = (
        invoice.get("DocNumber"),
        email_of.get(invoice["CustomerRef"]["value"]),
        _is_void(invoice),
    )
    if got != (want.number, want.email, want.voided):
        problems.append(f"invoice {crm_id}: number, customer, voided {got} != {want}")
    total, balance = amount(invoice.get("TotalAmt")), amount(invoice.get("Balance"))
    if want.voided:
        if total or balance or paid:
            problems.append(
                f"invoice {crm_id} voided: total {total}, balance {balance}, paid {paid}"
            )
    elif (total, balance, paid) != (want.total, want.amount_due, want.amount_paid):
        problems.append(
            f"invoice {crm_id}: total {total}, balance {balance}, payments {paid} != CRM total "
            f"{want.total}, due {want.amount_due}, paid {want.amount_paid}"
        )
    return problems


async def check_events(
    db: SessionFactory, accepted: Iterable[tuple[str, str]]
) -> tuple[list[str], Counter[str]]:
    """No lost event: each accepted one stored once, finished, with exactly one sync-log entry.

    Returns the problems and the count of events per final state.
    """
    async with db() as session:
        rows = (
            await session.execute(
                select(
                    CrmEvent.id,
                    CrmEvent.location_id,
                    CrmEvent.event_id,
                    CrmEvent.state,
                    CrmEvent.state_reason,
                )
            )
        ).all()
        entries = Counter(
            (
                await session.execute(
                    select(SyncLogEntry.crm_event_id).where(SyncLogEntry.crm_event_id.is_not(None))
                )
            ).scalars()
        )
    by_key = {(r.location_id, r.event_id): r for r in rows}
    problems: list[str] = []
    states: Counter[str] = Counter()
    for key in sorted(set(accepted)):
        row = by_key.get(key)
        if row is None:
            problems.append(f"event {key} was accepted but is not stored")
            continue
        states[row.state.value] += 1
        if row.state not in TERMINAL:
            problems.append(f"event {key} is still {row.state.value}: {row.state_reason}")
        if row.state is InboundState.FAILED and not (row.state_reason or "").strip():
            problems.append(f"event {key} failed without a reason")
        if entries[row.id] != 1:
            problems.append(f"event {key} has {entries[row.id]} sync-log entries (want 1)")
    return problems, states


async def failed_events(db: SessionFactory) -> dict[tuple[str, str], str]:
    """(location, event id) -> reason, for every event that ended failed."""
    async with db() as session:
        rows = await session.execute(
            select(CrmEvent.location_id, CrmEvent.event_id, CrmEvent.state_reason).where(
                CrmEvent.state == InboundState.FAILED
            )
        )
    return {(loc, event): reason or "" for loc, event, reason in rows}
