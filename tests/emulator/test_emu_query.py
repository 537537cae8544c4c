"""Query language: parser (pure), evaluator, and the /query endpoint's behaviour."""

# The statements built here are QBO queries against the emulator, not SQL.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbo_emulator import query
from qbo_emulator.faults import QBOFault

from .conftest import QBO


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class TestParser:
    def test_full_statement(self) -> None:
        q = query.parse(
            "SELECT * FROM Customer WHERE DisplayName LIKE 'A%' AND Balance >= 10.5 "
            "AND Active IN (true, false) ORDERBY DisplayName DESC STARTPOSITION 11 MAXRESULTS 5"
        )
        assert q.entity == "Customer"
        assert not q.count
        assert q.where == (
            query.Condition("DisplayName", "LIKE", ("A%",)),
            query.Condition("Balance", ">=", (Decimal("10.5"),)),
            query.Condition("Active", "IN", (True, False)),
        )
        assert q.order == (("DisplayName", True),)
        assert (q.start, q.max_results) == (11, 5)

    def test_keywords_are_case_insensitive_and_order_by_accepted(self) -> None:
        q = query.parse("select count(*) from invoice where TotalAmt > '300.00' order by Id")
        assert q.count
        assert q.entity == "invoice"
        assert q.order == (("Id", False),)

    def test_escaped_quote_and_backslash(self) -> None:
        q = query.parse(r"select * from Customer where DisplayName = 'Adam\'s \\ Shop'")
        assert q.where[0].values == ("Adam's \\ Shop",)

    @given(st.text(max_size=40))
    def test_escaping_round_trips_any_name(self, name: str) -> None:
        q = query.parse(f"select * from Customer where DisplayName = '{escape(name)}'")
        assert q.where[0].values == (name,)

    def test_maxresults_defaults_to_100_and_over_1000_is_refused(self) -> None:
        assert query.parse("select * from Item").max_results == 100
        with pytest.raises(QBOFault) as caught:
            query.validate(query.parse("select * from Item MAXRESULTS 5000"), "Item")
        assert caught.value.code == "4001"

    def test_star_with_extra_field_is_accepted(self) -> None:
        assert not query.parse("SELECT *, Sku FROM Item").count

    @pytest.mark.parametrize(
        "statement",
        [
            "select * from Customer where DisplayName = 'a' OR Id = '1'",
            "select * from Customer where DisplayName = 'Adam's'",
            "select Id, DisplayName from Customer",
            "select * from Customer where DisplayName = 'unterminated",
            "select * from Customer group by DisplayName",
            "select * from Customer where DisplayName != 'a'",
            "select * from Customer where DisplayName = \u2019a\u2019",
            "select * from Customer join Invoice",
            "",
        ],
    )
    def test_unsupported_syntax_is_query_parser_error(self, statement: str) -> None:
        with pytest.raises(QBOFault) as info:
            query.parse(statement)
        assert info.value.code == "4000"
        assert info.value.message == "Error parsing query"
        assert info.value.detail.startswith("QueryParserError")


async def customers(qbo: QBO, names: list[str]) -> None:
    # One batch request (up to 30 items): one at a time, 25 creates would pass QBO's 10/s.
    items = [
        {
            "bId": str(n),
            "operation": "create",
            "Customer": {
                "DisplayName": name,
                "PrimaryEmailAddr": {"Address": f"user{n}@example.com"},
            },
        }
        for n, name in enumerate(names)
    ]
    response = await qbo.post("/batch", {"BatchItemRequest": items})
    assert all("Customer" in item for item in response.json()["BatchItemResponse"]), response.text


class TestQueryEndpoint:
    async def test_escaped_apostrophe_finds_the_customer(self, qbo: QBO) -> None:
        await customers(qbo, ["Adam's Candy Shop", "Other"])
        data = (
            await qbo.query(r"select * from Customer where DisplayName = 'Adam\'s Candy Shop'")
        ).json()
        assert [c["DisplayName"] for c in data["QueryResponse"]["Customer"]] == [
            "Adam's Candy Shop"
        ]

    async def test_values_are_case_insensitive_and_like_uses_percent(self, qbo: QBO) -> None:
        await customers(qbo, ["Alpha One", "alpha two", "Beta"])
        data = (await qbo.query("select * from Customer where DisplayName like 'ALPHA%'")).json()
        assert len(data["QueryResponse"]["Customer"]) == 2
        data = (await qbo.query("select * from Customer where DisplayName = 'beta'")).json()
        assert data["QueryResponse"]["Customer"][0]["DisplayName"] == "Beta"

    async def test_nested_email_and_metadata_fields(self, qbo: QBO) -> None:
        await customers(qbo, ["A", "B"])
        data = (
            await qbo.query("select * from Customer where PrimaryEmailAddr = 'USER1@example.com'")
        ).json()
        assert [c["DisplayName"] for c in data["QueryResponse"]["Customer"]] == ["B"]
        stamp = qbo.emu.clock.meta_time(qbo.emu.clock.now() - 60)
        data = (
            await qbo.query(f"select * from Customer where MetaData.LastUpdatedTime > '{stamp}'")
        ).json()
        assert len(data["QueryResponse"]["Customer"]) == 2
        data = (
            await qbo.query(f"select * from Customer where MetaData.CreateTime < '{stamp}'")
        ).json()
        assert data["QueryResponse"] == {}

    async def test_id_in_and_ordering(self, qbo: QBO) -> None:
        await customers(qbo, ["C", "A", "B"])
        data = (
            await qbo.query(
                "select * from Customer where Id in ('1', '3') orderby DisplayName desc"
            )
        ).json()
        assert [c["DisplayName"] for c in data["QueryResponse"]["Customer"]] == ["C", "B"]

    async def test_paging_is_one_based_and_stable(self, qbo: QBO) -> None:
        await customers(qbo, [f"Cust {n:02d}" for n in range(25)])
        seen: list[str] = []
        for start in (1, 11, 21):
            page = (
                await qbo.query(
                    f"select * from Customer orderby Id startposition {start} maxresults 10"
                )
            ).json()
            assert page["QueryResponse"]["startPosition"] == start
            seen += [c["Id"] for c in page["QueryResponse"]["Customer"]]
        assert seen == [str(n) for n in range(1, 26)]
        last = (await qbo.query("select * from Customer startposition 21 maxresults 10")).json()
        assert last["QueryResponse"]["maxResults"] == 5

    async def test_maxresults_1000_pages_and_over_1000_is_refused(self, qbo: QBO) -> None:
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/seed", json={"customers": 1100})
        page = (await qbo.query("select * from Customer maxresults 1000")).json()
        assert len(page["QueryResponse"]["Customer"]) == 1000
        # ruckus/quickbooks-ruby #24: QBO refuses 1500 rather than capping it.
        response = await qbo.query("select * from Customer maxresults 1200")
        assert response.status_code == 400
        error = response.json()["Fault"]["Error"][0]
        assert error["code"] == "4001"
        assert error["Detail"] == (
            "QueryValidationError: value 1200 is too large. Max allowed value is 1000"
        )

    async def test_count_and_empty_result_shapes(self, qbo: QBO) -> None:
        await customers(qbo, ["A", "B"])
        assert (await qbo.query("select count(*) from Customer")).json()["QueryResponse"] == {
            "totalCount": 2
        }
        empty = (await qbo.query("select * from Customer where DisplayName = 'nobody'")).json()
        assert empty["QueryResponse"] == {}

    async def test_inactive_hidden_unless_active_is_mentioned(self, qbo: QBO) -> None:
        await customers(qbo, ["Active One", "Gone"])
        await qbo.post("/customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Active": False})
        default = (await qbo.query("select * from Customer")).json()["QueryResponse"]["Customer"]
        assert [c["DisplayName"] for c in default] == ["Active One"]
        both = (await qbo.query("select * from Customer where Active in (true, false)")).json()
        assert len(both["QueryResponse"]["Customer"]) == 2
        inactive = (await qbo.query("select * from Customer where Active = false")).json()
        shown = [c["DisplayName"] for c in inactive["QueryResponse"]["Customer"]]
        assert shown == ["Gone (deleted)"]

    async def test_numeric_comparison_and_refs(self, qbo: QBO) -> None:
        await customers(qbo, ["A"])
        for amount in (100, 400):
            line = {"DetailType": "SalesItemLineDetail", "Amount": amount}
            await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        data = (
            await qbo.query("select * from Invoice where TotalAmt > '300.00' and CustomerRef = '1'")
        ).json()
        assert [i["TotalAmt"] for i in data["QueryResponse"]["Invoice"]] == [400]

    async def test_post_query_with_application_text(self, qbo: QBO) -> None:
        await customers(qbo, ["A"])
        response = await qbo.http.post(
            qbo.base + "/query",
            content=b"select * from Customer",
            headers={**qbo.headers(), "Content-Type": "application/text"},
        )
        assert response.json()["QueryResponse"]["Customer"][0]["DisplayName"] == "A"

    async def test_parser_error_over_http(self, qbo: QBO) -> None:
        response = await qbo.query("select * from Customer where DisplayName = 'Adam's'")
        assert response.status_code == 400
        error = response.json()["Fault"]["Error"][0]
        assert error["code"] == "4000"
        assert error["Message"] == "Error parsing query"
