"""Q4 without a read: the webhooks of our own writes cost no QBO request; a user's edit does.

The emulator delivers its webhooks to the live service (app/sync/own_echoes.py recognises ours).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db.session import SessionFactory
from app.models import QboChange, ReviewRequest
from app.models.states import InboundState
from app.sync.own_echoes import ECHO_RESULT
from tests.e2e.sync_helpers import Qbo, post, settle
from tests.e2e.test_qbo_to_crm import (
    callback_url,  # noqa: F401 - the fixture, used by the live service
    connect,
    contacts,
    flush_and_settle,
    qbo_call,
    wait_for,
    webhooks_to,
)
from tests.fixtures.crm_receiver import CrmReceiver
from tests.fixtures.events import contact_event, invoice_event

pytestmark = pytest.mark.slow


async def reads_after(qbo: Qbo, mark: int) -> list[dict[str, Any]]:
    """The service's QBO reads (queries and reads by id) logged after request number `mark`."""
    log = (await qbo.requests())["requests"]
    return [r for r in log[mark:] if r["method"] == "GET" or r["path"].endswith("/query")]


async def changes(db: SessionFactory, entity: str) -> list[QboChange]:
    async with db() as session:
        rows = await session.execute(
            select(QboChange).where(QboChange.entity == entity).order_by(QboChange.id)
        )
        return list(rows.scalars())


async def invoice_sent(
    base: str, emulator: str, db: SessionFactory, *, flushed: bool, **connect_args: Any
) -> tuple[str, Qbo]:
    """A connected realm whose webhooks reach the service, and one CRM invoice synced to it;
    with `flushed`, the webhooks of that sync delivered and processed too."""
    realm = await connect(base, **connect_args)
    await webhooks_to(emulator, base)
    assert (await post(base, invoice_event(created_at="2099-01-01T00:00:00Z"))).status_code == 202
    await settle(db)
    if flushed:
        await flush_and_settle(emulator, db)
    return realm, Qbo(emulator, realm)


async def test_the_webhooks_of_our_creates_are_not_read_back(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    _, qbo = await invoice_sent(base, emulator, db, flushed=False)
    mark = len((await qbo.requests())["requests"])
    rows = await flush_and_settle(emulator, db)

    ours = [r for r in rows if r.entity in ("Customer", "Invoice")]
    assert {r.entity for r in ours} == {"Customer", "Invoice"}
    assert all(r.operation == "Create" for r in ours)
    assert [(r.state, r.state_reason) for r in ours] == [(InboundState.DONE, ECHO_RESULT)] * 2
    assert await reads_after(qbo, mark) == []
    assert not [c for c in crm_receiver.received if c["type"] == "contact.upsert"]


async def test_a_user_edit_right_after_our_create_is_read_and_reaches_the_crm(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm, qbo = await invoice_sent(base, emulator, db, flushed=False)
    customer = await qbo.one("Customer")
    # Within the second of our create, most likely: only the operation tells them apart.
    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Customer/{customer['Id']}",
        {"GivenName": "Annabel"},
    )
    await flush_and_settle(emulator, db)
    await wait_for(lambda: len(contacts(crm_receiver, customer["Id"])) == 1, "the user's edit")
    assert contacts(crm_receiver, customer["Id"])[0]["first_name"] == "Annabel"
    reasons = [r.state_reason for r in await changes(db, "Customer")]
    assert reasons[0] == ECHO_RESULT
    assert reasons[1] != ECHO_RESULT


async def test_a_user_edit_a_second_after_our_update_is_read_and_reaches_the_crm(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm, qbo = await invoice_sent(base, emulator, db, flushed=True)
    # Our update of the customer (an Update echo), then a user's Update a second later.
    assert (await post(base, contact_event(first_name="Anna"))).status_code == 202
    await settle(db)
    customer = await qbo.one("Customer")
    assert customer["GivenName"] == "Anna"
    async with httpx.AsyncClient(base_url=emulator) as http:
        await http.post("/_emulator/clock", json={"advance_s": 1.5})
    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Customer/{customer['Id']}",
        {"GivenName": "Annabel"},
    )
    await flush_and_settle(emulator, db)
    await wait_for(lambda: len(contacts(crm_receiver, customer["Id"])) == 1, "the user's edit")
    assert contacts(crm_receiver, customer["Id"])[0]["first_name"] == "Annabel"
    rows = await changes(db, "Customer")
    assert [r.operation for r in rows] == ["Create", "Update", "Update"]
    assert [r.state_reason == ECHO_RESULT for r in rows] == [True, True, False]


def paid(amount: str, status: str, event_id: str) -> dict[str, Any]:
    """The invoice of `invoice_event` with `amount` paid of its 115.42, a day later."""
    due = Decimal("115.42") - Decimal(amount)
    totals = {
        "subtotal": "119.99",
        "discount": "12.00",
        "tax": "7.43",
        "total": "115.42",
        "amount_paid": amount,
        "amount_due": str(due),
    }
    return invoice_event(
        event_id,
        f"invoice.{status}",
        created_at="2099-01-01T00:00:00Z",
        updated_at="2099-01-02T00:00:00Z",
        status=status,
        totals=totals,
    )


async def test_the_webhooks_of_our_partial_payment_are_not_read_back(
    live_service: tuple[str, Settings],
    emulator: str,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    _, qbo = await invoice_sent(base, emulator, db, flushed=True)
    mark = len((await qbo.requests())["requests"])
    assert (await post(base, paid("50.00", "partially_paid", "evt_paid"))).status_code == 202
    await settle(db)
    await flush_and_settle(emulator, db)

    [payment] = await qbo.all("Payment")
    assert Decimal(str(payment["TotalAmt"])) == Decimal("50.00")
    # The Payment's create and the invoice's balance update it caused: both ours, none read.
    assert [(r.operation, r.state_reason) for r in await changes(db, "Payment")] == [
        ("Create", ECHO_RESULT)
    ]
    invoice_rows = await changes(db, "Invoice")
    assert [(r.operation, r.state_reason) for r in invoice_rows[1:]] == [("Update", ECHO_RESULT)]
    assert await reads_after(qbo, mark) == []


async def test_a_user_edit_of_the_invoice_after_our_payment_is_read(
    live_service: tuple[str, Settings],
    emulator: str,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    realm, qbo = await invoice_sent(base, emulator, db, flushed=True)
    assert (await post(base, paid("50.00", "partially_paid", "evt_paid"))).status_code == 202
    await settle(db)
    invoice = await qbo.one("Invoice")
    # A user's edit within the second of our payment: the second Update is read.
    await qbo_call(
        emulator,
        "PATCH",
        f"/companies/{realm}/entities/Invoice/{invoice['Id']}",
        {"PrivateNote": "edited by a user"},
    )
    await flush_and_settle(emulator, db)
    updates = [r for r in await changes(db, "Invoice") if r.operation == "Update"]
    assert [r.state_reason == ECHO_RESULT for r in updates] == [True, False]


async def test_a_payment_in_full_is_read_for_the_review_rule(
    live_service: tuple[str, Settings],
    emulator: str,
    crm_receiver: CrmReceiver,
    db: SessionFactory,
) -> None:
    base, _ = live_service
    _, qbo = await invoice_sent(base, emulator, db, flushed=True, review_automation=True)
    assert (await post(base, paid("115.42", "paid", "evt_paid"))).status_code == 202
    await settle(db)
    await flush_and_settle(emulator, db)

    customer = await qbo.one("Customer")
    await wait_for(
        lambda: bool([c for c in crm_receiver.received if c["type"] == "review_request.send"]),
        "the review request of the customer's first paid invoice",
    )
    payment_rows = await changes(db, "Payment")
    assert [r.state_reason == ECHO_RESULT for r in payment_rows] == [False]
    async with db() as session:
        decision = await session.scalar(
            select(ReviewRequest.decision).where(ReviewRequest.qbo_customer_id == customer["Id"])
        )
    assert decision == "sent"
