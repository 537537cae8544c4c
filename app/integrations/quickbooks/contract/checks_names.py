"""Checks of names and numbers: duplicate DocNumbers, inactive names, several emails."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.integrations.quickbooks.contract.cleanup import DELETED_SUFFIX
from app.integrations.quickbooks.contract.model import Check, Needs, Outcome
from app.integrations.quickbooks.contract.raw import Answer, entity_of
from app.integrations.quickbooks.contract.runner import outcome
from app.integrations.quickbooks.contract.session import CheckSession

TWO_EMAILS = "a@example.com, b@example.org"
ALLOW_DUPLICATE = "allowduplicatedocnum"


async def _line(session: CheckSession) -> list[dict[str, Any]]:
    return [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": Decimal(10),
            "SalesItemLineDetail": {"ItemRef": {"value": await session.item_id()}},
        }
    ]


def _doc_number(session: CheckSession) -> str:
    # DocNumber holds at most 21 characters: the run id and the check's tag keep it unique.
    return f"qv{session.prefix.rsplit('-', 1)[-1]}{session.tag}"


def _status(answer: Answer) -> str:
    codes = ",".join(answer.codes())
    return f"{answer.status}{' ' + codes if codes else ''}"


async def _duplicates(session: CheckSession) -> tuple[str, dict[str, Any]]:
    lines, number = await _line(session), _doc_number(session)
    first = await session.invoice(lines, DocNumber=number)
    second = await session.invoice(lines, DocNumber=number)
    allowed = await session.create(
        "Invoice",
        session.invoice_body(
            lines, CustomerRef={"value": await session.customer_id()}, DocNumber=number
        ),
        include=ALLOW_DUPLICATE,
    )
    stored = allowed.entity("Invoice").get("DocNumber")
    observed = (
        f"first {_status(first)}, second {_status(second)}, with include={ALLOW_DUPLICATE} "
        f"{_status(allowed)}{' (same number)' if stored == number else ''}"
    )
    details: dict[str, Any] = {
        "doc_number": number,
        "second": second.summary(),
        "allowed": allowed.summary(),
    }
    # Intuit's DocNumber reference points at a preference in Preferences.OtherPrefs without
    # naming it: a sandbox report carries the company's OtherPrefs so the name can be found.
    preferences = await session.qbo.send("GET", "preferences")
    details["other_prefs"] = preferences.entity("Preferences").get("OtherPrefs")
    return observed, details


async def duplicate_on(session: CheckSession) -> Outcome:
    observed, details = await _duplicates(session)
    expected = f"first 200, second 400 6140, with include={ALLOW_DUPLICATE} 200 (same number)"
    return outcome(expected, observed, **details)


async def duplicate_off(session: CheckSession) -> Outcome:
    observed, details = await _duplicates(session)
    expected = f"first 200, second 400 6140, with include={ALLOW_DUPLICATE} 200 (same number)"
    return outcome(expected, observed, **details)


async def inactive_name(session: CheckSession) -> Outcome:
    name = session.name("inactive")
    made = entity_of(
        await session.create("Customer", {"DisplayName": name}), "Customer", "create customer"
    )
    body = {"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True, "Active": False}
    entity_of(await session.qbo.create("Customer", body), "Customer", "deactivate customer")
    read = entity_of(await session.qbo.read("Customer", made["Id"]), "Customer", "read customer")
    shown = str(read.get("DisplayName"))
    if shown == name + DELETED_SUFFIX:
        shown_as = "name + ' (deleted)'"
    elif shown.startswith(name):
        shown_as = f"name + {shown[len(name) :]!r}"
    else:
        shown_as = repr(shown)
    observed = f"Active {read.get('Active')}, DisplayName: {shown_as}"
    return outcome("Active False, DisplayName: name + ' (deleted)'", observed, read_back=shown)


async def several_bill_emails(session: CheckSession) -> Outcome:
    made = await session.invoice(await _line(session), BillEmail={"Address": TWO_EMAILS})
    if not made.ok:
        return outcome(
            f"200, BillEmail read back {TWO_EMAILS!r}", _status(made), answer=made.summary()
        )
    invoice_id = str(made.entity("Invoice")["Id"])
    read = entity_of(await session.qbo.read("Invoice", invoice_id), "Invoice", "read invoice")
    stored = (read.get("BillEmail") or {}).get("Address")
    observed = f"{made.status}, BillEmail read back {stored!r}"
    return outcome(f"200, BillEmail read back {TWO_EMAILS!r}", observed, invoice_id=invoice_id)


CHECKS = (
    Check(
        name="duplicate DocNumber, custom transaction numbers on",
        source="Intuit Invoice reference (DocNumber: duplicates refused while the company "
        "warns of them; include=allowduplicatedocnum allows one); QuickBooks-V3-DotNET-SDK #175",
        sends="two invoices with one DocNumber, then a third with include=allowduplicatedocnum",
        expects="second refused with 6140, the third accepted",
        run=duplicate_on,
        needs=Needs(settings={"custom_txn_numbers": True, "warn_duplicate_doc_number": True}),
    ),
    Check(
        name="duplicate DocNumber, custom transaction numbers off",
        source="emulator's model (qbo_emulator/sales.py: a given DocNumber is kept and checked "
        "whatever the preference)",
        sends="two invoices with one DocNumber, then a third with include=allowduplicatedocnum",
        expects="as with the preference on",
        run=duplicate_off,
        needs=Needs(settings={"custom_txn_numbers": False, "warn_duplicate_doc_number": True}),
        unknown=True,
    ),
    Check(
        name="inactive names",
        source="Intuit community article 1773334 and real QBO data ('Mortgage interest "
        "(deleted)'): an inactive name reads back with ' (deleted)' appended",
        sends="create a customer, make it inactive (sparse update), read it",
        expects="Active False, DisplayName: name + ' (deleted)'",
        run=inactive_name,
    ),
    Check(
        name="multi-address BillEmail",
        source="emulator's model (stored as given); Intuit's XSD Invoice.BillEmail says one "
        "address; Breadwinner and bill.com help pages say several, comma-separated",
        sends=f"invoice with BillEmail.Address {TWO_EMAILS!r}",
        expects=f"200, BillEmail read back {TWO_EMAILS!r}",
        run=several_bill_emails,
        unknown=True,
    ),
)
