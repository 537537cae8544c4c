"""Checks of the API's gatekeeping: requestid, throttle, unknown properties, queries, lengths."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from app.integrations.quickbooks.contract.model import Check, Outcome
from app.integrations.quickbooks.contract.raw import Answer
from app.integrations.quickbooks.contract.runner import outcome
from app.integrations.quickbooks.contract.session import CheckSession
from app.integrations.quickbooks.query import Select

BURST = 15
UNKNOWN_PROPERTY = "QbsVerifyUnknownProperty"
DISPLAY_NAME_MAX = 500


async def _customers_named(session: CheckSession, name: str) -> int:
    return len(await session.rows_where("Customer", "DisplayName", name))


def _id(answer: Answer) -> str:
    return str(answer.entity("Customer").get("Id", "-"))


async def requestid_same_body(session: CheckSession) -> Outcome:
    name, request_id = session.name("replay"), secrets.token_hex(16)
    first = await session.create("Customer", {"DisplayName": name}, requestid=request_id)
    second = await session.create("Customer", {"DisplayName": name}, requestid=request_id)
    same = first.ok and second.ok and _id(first) == _id(second)
    count = await _customers_named(session, name)
    observed = (
        f"answers {first.status}/{second.summary()}, same Id: {'yes' if same else 'no'}, "
        f"customers with the name: {count}"
    )
    expected = "answers 200/200, same Id: yes, customers with the name: 1"
    return outcome(expected, observed, first_id=_id(first), second_id=_id(second))


async def requestid_different_body(session: CheckSession) -> Outcome:
    request_id = secrets.token_hex(16)
    first_name, second_name = session.name("first"), session.name("second")
    first = await session.create("Customer", {"DisplayName": first_name}, requestid=request_id)
    second = await session.create("Customer", {"DisplayName": second_name}, requestid=request_id)
    replayed = second.entity("Customer").get("DisplayName") == first_name
    observed = (
        f"second answer {second.status}, "
        f"{'the first answer again' if replayed else 'not the first answer'}, "
        f"customers with the second name: {await _customers_named(session, second_name)}"
    )
    expected = "second answer 200, the first answer again, customers with the second name: 0"
    details = {"first_id": _id(first), "second": second.summary(), "second_id": _id(second)}
    return outcome(expected, observed, **details)


async def burst(session: CheckSession) -> Outcome:
    # Unpaced and unretried: the check is about the throttle's answer.
    qbo = dataclasses.replace(session.qbo, min_interval_s=0.0)
    path = f"companyinfo/{qbo.realm_id}"
    started = time.monotonic()
    answers = await asyncio.gather(
        *(qbo.send("GET", path, retry_throttled=False) for _ in range(BURST))
    )
    # The premise is "in one second": a report whose burst took longer says so.
    elapsed_s = round(time.monotonic() - started, 3)
    ok = sum(1 for a in answers if a.ok)
    throttled = [a for a in answers if a.status == 429]
    codes = sorted({code for a in throttled for code in a.codes()})
    other = sorted({a.status for a in answers if not a.ok and a.status != 429})
    observed = f"{ok} x 200, {len(throttled)} x 429 (codes {','.join(codes) or '-'})"
    if other:
        observed += f", other statuses {other}"
    passed = ok <= 10 and bool(throttled) and codes == ["3001"] and not other
    expected = "at most 10 x 200, the rest 429 with code 3001"
    sample = throttled[0].text[:500] if throttled else None
    return Outcome(
        expected, observed, passed, {"first_429_body": sample, "burst_elapsed_s": elapsed_s}
    )


async def unknown_property(session: CheckSession) -> Outcome:
    body = {"DisplayName": session.name("unknown-prop"), UNKNOWN_PROPERTY: "x"}
    answer = await session.create("Customer", body)
    named = UNKNOWN_PROPERTY in answer.text
    observed = f"{answer.status}, codes {','.join(answer.codes()) or '-'}"
    details = {"answer": answer.summary(), "detail_names_the_property": named}
    return outcome("400, codes 2010", observed, **details)


async def non_filterable_query(session: CheckSession) -> Outcome:
    answer = await session.qbo.query("select * from Invoice where PrivateNote = 'x'")
    observed = f"{answer.status}, codes {','.join(answer.codes()) or '-'}"
    return outcome("400, codes 4001", observed, answer=answer.summary())


def service_queries() -> list[Select]:
    """The shapes of the service's own lookups (app/sync), rendered by its query builder: QBO
    refusing one (4001) would break a sync, so a sandbox run must see them all accepted."""
    day, name = date(2026, 1, 1), "qbs-verify-none"
    by_customer_day = [
        Select(entity).where("CustomerRef", "=", "1").where("TxnDate", "=", day)
        for entity in ("Invoice", "SalesReceipt", "Payment")
    ]
    return [
        Select("Customer").where("PrimaryEmailAddr", "=", "a@example.com").include_inactive(),
        Select("Customer")
        .where("DisplayName", "IN", (name, f"{name} (deleted)"))
        .include_inactive()
        .order_by("Id"),
        Select("Item").where("Name", "IN", (name, f"{name} (deleted)")).include_inactive(),
        Select("Invoice").where("CustomerRef", "=", "1").where("Balance", "=", Decimal(0)),
        *by_customer_day,
        Select("Payment").where("Id", "IN", ("1", "2")),
        Select("Account").where("AccountType", "=", "Income"),
        Select("TaxCode").order_by("Id"),
        Select("Invoice").where("MetaData.LastUpdatedTime", ">=", datetime(2026, 1, 1, tzinfo=UTC)),
    ]


async def accepted_queries(session: CheckSession) -> Outcome:
    refused: dict[str, str] = {}
    for select in service_queries():
        answer = await session.qbo.query(str(select))
        if not answer.ok:
            refused[str(select)] = answer.summary()
    observed = f"{len(refused)} refused" + (f": {'; '.join(refused)}" if refused else "")
    return outcome("0 refused", observed, refused=refused, sent=len(service_queries()))


async def over_long_name(session: CheckSession) -> Outcome:
    name = session.name("long").ljust(DISPLAY_NAME_MAX + 1, "x")
    answer = await session.create("Customer", {"DisplayName": name})
    observed = f"{answer.status}, codes {','.join(answer.codes()) or '-'}"
    return outcome("400, codes 2050", observed, answer=answer.summary(), length=len(name))


CHECKS = (
    Check(
        name="requestid replay (same id twice, same body)",
        source="Intuit blog 2015-04-06 (requestid makes a retried create idempotent) and "
        "'Basic ID and field definitions', Request ID",
        sends="POST customer?requestid=R twice with the same body",
        expects="the same answer twice, one customer",
        run=requestid_same_body,
    ),
    Check(
        name="requestid replay (same id twice, different body)",
        source="emulator's model (qbo_emulator/guard.py: the first answer is replayed "
        "whatever the body); QuickBooks-V3-DotNET-SDK #352 and node-quickbooks #38 doubt "
        "requestid works at all",
        sends="POST customer?requestid=R with name A, then with name B",
        expects="the first answer again, no customer B",
        run=requestid_different_body,
        unknown=True,
    ),
    Check(
        name="15 requests in one second",
        source="Intuit 'API call limits and throttles': 10 requests per second per realm and "
        "app, HTTP 429 (fault code 3001, ThrottleExceeded)",
        sends=f"{BURST} GET companyinfo at once",
        expects="at most 10 x 200, the rest 429 with code 3001",
        run=burst,
        last=True,
    ),
    Check(
        name="unknown property",
        source="python-quickbooks #80, #299, #38 and QuickBooks-V3-DotNET-SDK #376: 400, 2010 "
        "'Request has invalid or unsupported property'",
        sends=f"POST customer with an extra property {UNKNOWN_PROPERTY}",
        expects="400, codes 2010",
        run=unknown_property,
    ),
    Check(
        name="non-filterable query field",
        source="Intuit entity reference (Invoice: PrivateNote is not filterable) and its "
        "query error 4001 (QueryValidationError)",
        sends="select * from Invoice where PrivateNote = 'x'",
        expects="400, codes 4001",
        run=non_filterable_query,
    ),
    Check(
        name="the service's queries are accepted",
        source="emulator's model (its filterable-field table); Intuit's entity reference marks "
        "most of these fields filterable, SalesReceipt CustomerRef and Payment TxnDate only "
        "third-party driver docs (ComponentOne/CData) do",
        sends="each lookup query the service makes (customers by email and name, items by "
        "name, documents by CustomerRef + TxnDate, Id IN, CDC's LastUpdatedTime)",
        expects="0 refused",
        run=accepted_queries,
        unknown=True,
    ),
    Check(
        name="over-long names",
        source="Intuit Customer reference: DisplayName max 500 characters; over-long strings "
        "answer 2050 (qbo-api reference, corrections 4)",
        sends=f"POST customer with a {DISPLAY_NAME_MAX + 1}-character DisplayName",
        expects="400, codes 2050",
        run=over_long_name,
    ),
)
