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
PRINT_NAME_MAX = 110
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
    # What a lookup by the bare name finds while the customer is inactive (the service asks
    # for both spellings: app/sync lookups), then whether reactivating restores the name.
    matches = len(await session.rows_where("Customer", "DisplayName", name))
    again = {"Id": read["Id"], "SyncToken": read["SyncToken"], "sparse": True, "Active": True}
    back = entity_of(await session.qbo.create("Customer", again), "Customer", "reactivate")
    restored = "restored" if back.get("DisplayName") == name else repr(back.get("DisplayName"))
    item_element = await _item_duplicate_element(session)
    observed = (
        f"Active {read.get('Active')}, DisplayName: {shown_as}; DisplayName = name matches "
        f"{matches}; reactivated: {restored}; duplicate item name: {item_element}"
    )
    expected = (
        "Active False, DisplayName: name + ' (deleted)'; DisplayName = name matches 0; "
        "reactivated: restored; duplicate item name: 6240 element 'Name'"
    )
    return outcome(expected, observed, read_back=shown)


async def _item_duplicate_element(session: CheckSession) -> str:
    """A second item with an existing item's name: the 6240's code and element."""
    first = entity_of(
        await session.create("Item", await _item_body(session, session.name("dup"))),
        "Item",
        "create item",
    )
    second = await session.create("Item", await _item_body(session, str(first["Name"])))
    errors = second.errors()
    element = errors[0].get("element") if errors else None
    return f"{','.join(second.codes()) or second.status} element {element!r}"


async def _item_body(session: CheckSession, name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Service",
        "IncomeAccountRef": {"value": await session.income_account_id()},
    }


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


async def several_primary_emails(session: CheckSession) -> Outcome:
    body = {"DisplayName": session.name("emails"), "PrimaryEmailAddr": {"Address": TWO_EMAILS}}
    made = await session.create("Customer", body)
    expected = f"200, PrimaryEmailAddr read back {TWO_EMAILS!r}"
    if not made.ok:
        return outcome(expected, _status(made), answer=made.summary())
    customer_id = str(made.entity("Customer")["Id"])
    read = entity_of(await session.qbo.read("Customer", customer_id), "Customer", "read customer")
    stored = (read.get("PrimaryEmailAddr") or {}).get("Address")
    observed = f"{made.status}, PrimaryEmailAddr read back {stored!r}"
    return outcome(expected, observed, customer_id=customer_id)


async def long_print_name(session: CheckSession) -> Outcome:
    explicit = {
        "DisplayName": session.name("print"),
        "PrintOnCheckName": session.name("print").ljust(PRINT_NAME_MAX + 1, "x"),
    }
    refused = await session.create("Customer", explicit)
    hundred_one = {
        "DisplayName": session.name("print"),
        "PrintOnCheckName": session.name("print").ljust(101, "x"),
    }
    between = await session.create("Customer", hundred_one)
    long_name = session.name("display").ljust(150, "x")
    copied = await session.create("Customer", {"DisplayName": long_name})
    printed = copied.entity("Customer").get("PrintOnCheckName")
    if printed == long_name:
        shown = "the DisplayName (150)"
    else:
        shown = f"{len(printed)} characters" if isinstance(printed, str) else repr(printed)
    observed = (
        f"PrintOnCheckName of 111: {_status(refused)}; of 101: {_status(between)}; "
        f"DisplayName of 150 without one: {_status(copied)}, PrintOnCheckName {shown}"
    )
    expected = (
        "PrintOnCheckName of 111: 400 2050; of 101: 200; DisplayName of 150 without one: 200, "
        "PrintOnCheckName the DisplayName (150)"
    )
    details = {"refused": refused.summary(), "print_on_check_name": printed}
    return outcome(expected, observed, **details)


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
        sends="create a customer, make it inactive (sparse update), read it, query "
        "DisplayName = its name, make it active again; two items with one name",
        expects="Active False, DisplayName: name + ' (deleted)' (sourced); the bare name "
        "matches nothing, reactivating restores it, an item's 6240 names element 'Name' "
        "(the emulator's model, qbo_emulator/names.py)",
        run=inactive_name,
        unknown=True,  # the lookup, reactivation and item 6240 parts
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
    Check(
        name="multi-address PrimaryEmailAddr",
        source="emulator's model (qbo_emulator/names.py: accepted when it holds an '@' and a "
        "'.'); Breadwinner and bill.com help pages say QBO holds several addresses "
        "comma-separated, which the service sends (app/sync/mapping/customer_text.py)",
        sends=f"customer with PrimaryEmailAddr.Address {TWO_EMAILS!r}",
        expects=f"200, PrimaryEmailAddr read back {TWO_EMAILS!r}",
        run=several_primary_emails,
        unknown=True,
    ),
    Check(
        name="PrintOnCheckName over 110",
        source="Intuit Customer reference as copied in abossenbroek/qbo-mcp (PrintOnCheckName "
        "max 110; another summary says 100) and the emulator's model (qbo_emulator/names.py: "
        "a missing PrintOnCheckName is the DisplayName as is, whatever its length)",
        sends="customers with a 111- and a 101-character PrintOnCheckName, and one with a "
        "150-character DisplayName and no PrintOnCheckName",
        expects="111 refused (2050), 101 accepted, the 150-character DisplayName copied",
        run=long_print_name,
        unknown=True,
    ),
)
