"""The emulator is strict where QBO is: query fields and paging, inactive names, 6240 holders,
duplicate DocNumbers by preference, and US line tax codes (sources in qbo_emulator/README)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qbo_emulator.state import Emulator

from .conftest import QBO, load_sample, new_company


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


async def _item(qbo: QBO, name: str, **fields: Any) -> dict[str, Any]:
    return await qbo.create(
        "Item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": "1"}, **fields}
    )


class TestQueryValidation:
    async def test_non_filterable_customer_field_is_refused_with_4001(self, qbo: QBO) -> None:
        error = _error(await qbo.query("select * from Customer where Notes = 'crm:1'"))
        assert error["code"] == "4001"
        assert error["Message"] == "Invalid query"
        assert error["Detail"] == "QueryValidationError: property 'Notes' is not queryable"

    async def test_property_the_entity_lacks_is_not_found(self, qbo: QBO) -> None:
        error = _error(await qbo.query("select * from Customer where status = 'x'"))
        assert error["Detail"] == (
            "QueryValidationError: Property status not found for Entity Customer"
        )

    async def test_invoice_private_note_is_not_queryable(self, qbo: QBO) -> None:
        error = _error(await qbo.query("select * from Invoice where PrivateNote = 'x'"))
        assert error["code"] == "4001"

    async def test_id_takes_only_equals_and_in(self, qbo: QBO) -> None:
        assert (await qbo.query("select * from Customer where Id > '1'")).status_code == 400
        assert (await qbo.query("select * from Customer where Id = '1'")).status_code == 200
        assert (await qbo.query("select * from Customer where Id in ('1')")).status_code == 200

    @pytest.mark.parametrize(
        "statement",
        ["select * from Customer startposition 0", "select * from Customer startposition -1"],
    )
    async def test_startposition_below_one_is_refused(self, qbo: QBO, statement: str) -> None:
        assert _error(await qbo.query(statement))["code"] == "4001"

    @pytest.mark.parametrize(
        "statement",
        [
            # The queries this project's service sends (app/sync, app/integrations/quickbooks).
            "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'a@b.co' AND Active IN (true, false)"
            " ORDERBY Id",
            "SELECT * FROM Customer WHERE DisplayName IN ('A', 'A (deleted)')"
            " AND Active IN (true, false) ORDERBY Id",
            "SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY Id"
            " STARTPOSITION 1 MAXRESULTS 1000",
            "SELECT * FROM Invoice WHERE CustomerRef = '1' AND Balance = 0",
            "SELECT * FROM Invoice WHERE CustomerRef = '1' AND TxnDate = '2026-01-02' ORDERBY Id"
            " STARTPOSITION 1 MAXRESULTS 1000",
            "SELECT * FROM SalesReceipt WHERE CustomerRef = '1' AND TxnDate = '2026-01-02'",
            "SELECT * FROM Payment WHERE CustomerRef = '1' AND TxnDate = '2026-01-02'",
            "SELECT * FROM Payment WHERE Id IN ('1', '2') STARTPOSITION 1 MAXRESULTS 500",
            "SELECT * FROM Item WHERE Name IN ('X', 'X (deleted)') AND Active IN (true, false)",
            "SELECT * FROM Item WHERE Name = 'X'",
            "SELECT * FROM Account WHERE AccountType = 'Income' ORDERBY Id",
            "SELECT * FROM TaxCode ORDERBY Id",
            "SELECT * FROM TaxRate ORDERBY Id",
            "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-01-01T00:00:00+00:00'",
        ],
    )
    async def test_the_service_queries_are_accepted(self, qbo: QBO, statement: str) -> None:
        response = await qbo.query(statement)
        assert response.status_code == 200, response.text


class TestInactiveNames:
    async def test_inactive_customer_reads_deleted_and_reactivation_restores(
        self, qbo: QBO
    ) -> None:
        made = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
        off = await qbo.create(
            "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        assert off["DisplayName"] == "Ann Lee (deleted)"
        assert off["FullyQualifiedName"] == "Ann Lee (deleted)"
        assert (await qbo.read("Customer", made["Id"]))["DisplayName"] == "Ann Lee (deleted)"
        on = await qbo.create(
            "Customer", {"Id": made["Id"], "SyncToken": "1", "sparse": True, "Active": True}
        )
        assert on["DisplayName"] == on["FullyQualifiedName"] == "Ann Lee"

    async def test_inactive_holder_still_blocks_its_name_and_is_named(self, qbo: QBO) -> None:
        made = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
        await qbo.create(
            "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        error = _error(await qbo.post("/customer", {"DisplayName": "Ann Lee"}))
        sample = load_sample("fault-duplicate-name-6240.json")["Fault"]["Error"][0]
        assert (error["code"], error["Message"]) == (sample["code"], sample["Message"])
        assert error["element"] == sample["element"] == "DisplayName"
        assert error["Detail"] == f"The name supplied already exists. : Id={made['Id']}"

    async def test_query_matches_the_name_as_shown(self, qbo: QBO) -> None:
        made = await qbo.create("Customer", {"DisplayName": "Ann Lee"})
        await qbo.create(
            "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        base = "select * from Customer where Active in (true, false) and DisplayName"
        assert (await qbo.query(f"{base} = 'Ann Lee'")).json()["QueryResponse"] == {}
        hits = (await qbo.query(f"{base} = 'Ann Lee (deleted)'")).json()["QueryResponse"]
        assert [c["Id"] for c in hits["Customer"]] == [made["Id"]]

    async def test_inactive_item_reads_deleted_and_blocks_its_name(self, qbo: QBO) -> None:
        item = await _item(qbo, "Widget")
        off = await qbo.create(
            "Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        assert off["Name"] == off["FullyQualifiedName"] == "Widget (deleted)"
        error = _error(
            await qbo.post(
                "/item", {"Name": "Widget", "Type": "Service", "IncomeAccountRef": {"value": "1"}}
            )
        )
        assert error["code"] == "6240"
        assert error["Detail"] == f"The name supplied already exists. : Id={item['Id']}"


def _invoice(doc: str) -> dict[str, Any]:
    line = {"DetailType": "SalesItemLineDetail", "Amount": 10, "SalesItemLineDetail": {}}
    return {"CustomerRef": {"value": "1"}, "DocNumber": doc, "Line": [line]}


class TestDuplicateDocNumber:
    async def test_refused_while_the_company_warns(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Buyer"})
        first = await qbo.create("Invoice", _invoice("A-1"))
        error = _error(await qbo.post("/invoice", _invoice("A-1")))
        assert error["code"] == "6140"
        assert f"TxnId={first['Id']}" in error["Detail"]

    async def test_include_allowduplicatedocnum_accepts_one(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Buyer"})
        await qbo.create("Invoice", _invoice("A-1"))
        twin = await qbo.create("Invoice", _invoice("A-1"), include="allowduplicatedocnum")
        assert twin["DocNumber"] == "A-1"

    async def test_batch_options_data_accepts_one(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Buyer"})
        await qbo.create("Invoice", _invoice("A-1"))
        item = {"bId": "1", "operation": "create", "Invoice": _invoice("A-1")}
        plain = (await qbo.post("/batch", {"BatchItemRequest": [item]})).json()
        assert plain["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "6140"
        allowed = {**item, "optionsData": "allowduplicatedocnum"}
        data = (await qbo.post("/batch", {"BatchItemRequest": [allowed]})).json()
        assert data["BatchItemResponse"][0]["Invoice"]["DocNumber"] == "A-1"

    async def test_accepted_with_the_preference_off(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        qbo = await new_company(http, emu, warn_duplicate_doc_number=False)
        await qbo.create("Customer", {"DisplayName": "Buyer"})
        await qbo.create("Invoice", _invoice("A-1"))
        assert (await qbo.create("Invoice", _invoice("A-1")))["DocNumber"] == "A-1"


def _line(item_id: str, tax_code: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "Qty": 1, "UnitPrice": 100}
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": detail}


class TestUsLineTaxCodes:
    async def test_line_without_code_follows_the_item(self, qbo: QBO) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Buyer"})
        taxable = await _item(qbo, "Taxed thing", Taxable=True)
        exempt = await _item(qbo, "Exempt thing", Taxable=False)
        invoice = await qbo.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [_line(taxable["Id"]), _line(exempt["Id"])],
            },
        )
        codes = [
            line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
            for line in invoice["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        ]
        assert codes == ["TAX", "NON"]
        assert invoice["TxnTaxDetail"]["TotalTax"] > 0  # 8.25% of the taxable 100

    async def test_unknown_tax_code_is_refused(self, qbo: QBO) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Buyer"})
        body = {"CustomerRef": {"value": customer["Id"]}, "Line": [_line("1", "BOGUS")]}
        error = _error(await qbo.post("/invoice", body))
        assert error["code"] == "2500"
        assert error["element"] == "TaxCodeRef"

    async def test_explicit_codes_win_over_the_item(self, qbo: QBO) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Buyer"})
        taxable = await _item(qbo, "Taxed thing", Taxable=True)
        body = {"CustomerRef": {"value": customer["Id"]}, "Line": [_line(taxable["Id"], "non")]}
        invoice = await qbo.create("Invoice", body)
        assert invoice["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "NON"
