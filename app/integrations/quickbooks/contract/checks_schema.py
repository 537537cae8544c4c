"""Checks of what QBO reads before any business rule: wrongly typed values, and the query texts
the emulator words without a source (Id operators, STARTPOSITION below 1, ORDERBY)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.integrations.quickbooks.contract.model import Check, Outcome
from app.integrations.quickbooks.contract.raw import Answer
from app.integrations.quickbooks.contract.session import CheckSession

BAD_DATE = "2026-02-30"


def _status(answer: Answer) -> str:
    codes = ",".join(answer.codes())
    return f"{answer.status}{' ' + codes if codes else ''}"


async def _item(session: CheckSession, **fields: Any) -> Answer:
    body = {
        "Name": session.name("item"),
        "Type": "Service",
        "IncomeAccountRef": {"value": await session.income_account_id()},
        **fields,
    }
    return await session.create("Item", body)


async def wrong_types(session: CheckSession) -> Outcome:
    sent: dict[str, Answer] = {}
    sent["decimal as '12.50'"] = await _item(session, UnitPrice="12.50")
    sent["boolean as 'true'"] = await _item(session, Taxable="true")
    customer = {"DisplayName": session.name("typed"), "CompanyName": {"value": "x"}}
    sent["object for a string"] = await session.create("Customer", customer)
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal(10),
        "SalesItemLineDetail": {"ItemRef": {"value": await session.item_id()}},
    }
    customer_ref = {"value": await session.customer_id()}
    invoice = session.invoice_body([line], CustomerRef=customer_ref)
    sent["object for a list"] = await session.create("Invoice", {**invoice, "Line": line})
    dated = session.invoice_body([line], CustomerRef=customer_ref, TxnDate=BAD_DATE)
    sent[f"date {BAD_DATE}"] = await session.create("Invoice", dated)
    misplaced = {**line, "DepartmentRef": {"value": "1"}}
    placed = session.invoice_body([misplaced], CustomerRef=customer_ref)
    sent["line DepartmentRef"] = await session.create("Invoice", placed)
    # What each accepted value reads back as, with its JSON type: Jackson coerces the strings
    # (12.50 a number, true a boolean); the emulator keeps them as sent (strings), so the
    # read-back is reported, not judged.
    read_back = {
        "decimal as '12.50'": sent["decimal as '12.50'"].entity("Item").get("UnitPrice"),
        "boolean as 'true'": sent["boolean as 'true'"].entity("Item").get("Taxable"),
        f"date {BAD_DATE}": sent[f"date {BAD_DATE}"].entity("Invoice").get("TxnDate"),
    }
    observed = "; ".join(f"{what}: {_status(answer)}" for what, answer in sent.items())
    expected = (
        "decimal as '12.50': 200; boolean as 'true': 200; object for a string: 400 2010; "
        f"object for a list: 400 2010; date {BAD_DATE}: 200; line DepartmentRef: 400 2010"
    )
    details: dict[str, Any] = {what: answer.summary() for what, answer in sent.items()}
    details["read_back"] = {
        what: {"value": str(value), "json_type": type(value).__name__}
        for what, value in read_back.items()
    }
    return Outcome(expected, observed, observed == expected, details)


QUERIES = (
    ("Id with <", "select * from Customer where Id < '5'", "400 4001"),
    ("STARTPOSITION 0", "select * from Customer startposition 0 maxresults 5", "400 4001"),
    ("ORDERBY PrivateNote", "select * from Invoice orderby PrivateNote", "200"),
)


async def query_paging(session: CheckSession) -> Outcome:
    answers = {what: await session.qbo.query(text) for what, text, _ in QUERIES}
    expected = "; ".join(f"{what}: {want}" for what, _, want in QUERIES)
    observed = "; ".join(f"{what}: {_status(answers[what])}" for what, _, _ in QUERIES)
    # The texts are what a sandbox report is for: the emulator words them without a source.
    details = {what: answers[what].summary() for what, _, _ in QUERIES}
    return Outcome(expected, observed, observed == expected, details)


CHECKS: tuple[Check, ...] = (
    Check(
        name="wrong type",
        source="emulator's model (qbo_emulator/schema.py: Jackson's default coercions, a decimal "
        "from a numeric string and a boolean from 'true'; an object for a string or a list "
        "refused with 2010; dates not parsed; a property where the schema has none refused "
        "with 2010); qbo-api.md correction 3 quotes a wrong-type 2010",
        sends="an Item with UnitPrice '12.50', an Item with Taxable 'true', a Customer with "
        f"CompanyName an object, an Invoice with Line one object, an Invoice dated {BAD_DATE}, "
        "an Invoice with a DepartmentRef on its line (a property of the Invoice, not the line)",
        expects="the two strings accepted and read back typed, the two objects refused (2010), "
        "the date kept as sent, the misplaced DepartmentRef refused (2010)",
        run=wrong_types,
        unknown=True,
    ),
    Check(
        name="query paging and Id operators",
        source="Intuit 'Query operations and syntax' (Id takes only = and IN; STARTPOSITION is "
        "1-based); the code and the texts QBO answers with are the emulator's model "
        "(qbo_emulator/query.py), as is ORDERBY accepting any property",
        sends="; ".join(text for _, text, _ in QUERIES),
        expects="; ".join(f"{what}: {want}" for what, _, want in QUERIES),
        run=query_paging,
        unknown=True,
    ),
)


async def _vendor(session: CheckSession, **fields: Any) -> Answer:
    return await session.create("Vendor", {"DisplayName": session.name("vendor"), **fields})


async def other_lengths(session: CheckSession) -> Outcome:
    sent: dict[str, Answer] = {}
    sent["Vendor CompanyName of 101"] = await _vendor(session, CompanyName="v" * 101)
    sent["Item PurchaseDesc of 1001"] = await _item(session, PurchaseDesc="d" * 1001)
    phone = {"FreeFormNumber": "1" * 31}
    sent["Customer phone of 31"] = await session.create(
        "Customer", {"DisplayName": session.name("phone"), "PrimaryPhone": phone}
    )
    both = {"DisplayName": session.name("two"), "GivenName": "g" * 101, "FamilyName": "f" * 101}
    sent["GivenName and FamilyName of 101"] = await session.create("Customer", both)
    observed = "; ".join(f"{what}: {_status(answer)}" for what, answer in sent.items())
    errors = len(sent["GivenName and FamilyName of 101"].errors())
    observed += f" ({errors} Error{'s' if errors != 1 else ''})"
    expected = (
        "Vendor CompanyName of 101: 400 2050; Item PurchaseDesc of 1001: 200; Customer phone "
        "of 31: 200; GivenName and FamilyName of 101: 400 2050 (1 Error)"
    )
    details = {what: answer.summary() for what, answer in sent.items()}
    return Outcome(expected, observed, observed == expected, details)


CHECKS = (  # the length check's helpers come after the first two checks
    *CHECKS,
    Check(
        name="length limits outside the Customer page",
        source="emulator's model (qbo_emulator/schema.py MAX_LENGTHS: Vendor CompanyName 100 "
        "from a summary of Intuit's Vendor page; Item PurchaseDesc and phone numbers not "
        "enforced, the figures disagree; only the first over-long property reported)",
        sends="a Vendor with a 101-character CompanyName, an Item with a 1001-character "
        "PurchaseDesc, a Customer with a 31-character phone, a Customer with GivenName and "
        "FamilyName of 101",
        expects="the first refused (2050), the next two accepted, the last refused with one Error",
        run=other_lengths,
        unknown=True,
    ),
)
