"""Property-level refusals: unknown, misplaced or wrong-typed properties (2010), over-long
strings (2050). Sources are in qbo_emulator/schema.py; the request bodies here are minimal
synthetic inputs, not captured data."""

from __future__ import annotations

from typing import Any

import pytest

from qbo_emulator.schema import LENGTH_MESSAGE, UNSUPPORTED_DETAIL

from .conftest import QBO


def invoice(customer_id: str, **extra: Any) -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 10,
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    return {"CustomerRef": {"value": customer_id}, "Line": [line], **extra}


async def refused(qbo: QBO, entity: str, body: Any, **params: Any) -> dict[str, Any]:
    response = await qbo.post(f"/{entity.lower()}", body, **params)
    assert response.status_code == 400, response.text
    [error] = response.json()["Fault"]["Error"]
    assert response.json()["Fault"]["type"] == "ValidationFault"
    result: dict[str, Any] = error
    return result


async def count(qbo: QBO, entity: str) -> int:
    body = (await qbo.query(f"select count(*) from {entity}")).json()  # noqa: S608 - fixed names
    total: int = body["QueryResponse"]["totalCount"]
    return total


def is_2010(error: dict[str, Any]) -> bool:
    return bool(error["code"] == "2010" and error["Detail"] == UNSUPPORTED_DETAIL)


class TestUnknownProperties:
    async def test_unknown_top_level_property_refuses_and_stores_nothing(self, qbo: QBO) -> None:
        before = await count(qbo, "Customer")
        error = await refused(qbo, "Customer", {"DisplayName": "Ann", "Nickname": "A"})
        assert is_2010(error)
        assert error["Message"] == "Request has invalid or unsupported property"
        assert await count(qbo, "Customer") == before

    @pytest.mark.parametrize(
        "mutate",
        [
            # unknown inside a line detail
            lambda b: b["Line"][0]["SalesItemLineDetail"].update(Colour="red"),
            # misplaced: ItemRef belongs in SalesItemLineDetail, not on the Line
            lambda b: b["Line"][0].update(ItemRef={"value": "1"}),
            # unknown inside a ReferenceType {value, name, type}
            lambda b: b["CustomerRef"].update(Id="1"),
            # unknown inside a PhysicalAddress
            lambda b: b.update(BillAddr={"Line1": "1 Main St", "Street": "Main"}),
            # a Customer field on an Invoice
            lambda b: b.update(CompanyName="Acme"),
        ],
        ids=["line-detail", "misplaced-itemref", "reference", "address", "other-entity"],
    )
    async def test_unknown_nested_property_refuses(self, qbo: QBO, mutate: Any) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Nested"})
        body = invoice(customer["Id"])
        mutate(body)
        assert is_2010(await refused(qbo, "Invoice", body))
        assert await count(qbo, "Invoice") == 0

    async def test_update_with_unknown_property_changes_nothing(self, qbo: QBO) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Kept"})
        body = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Nick": "K"}
        assert is_2010(await refused(qbo, "Customer", body))
        assert (await qbo.read("Customer", customer["Id"]))["SyncToken"] == "0"

    async def test_what_sdks_send_passes(self, qbo: QBO) -> None:
        """Inherited IntuitEntity attributes, nulls and "" are accepted (python-quickbooks
        sends "" and null for unset fields against real QBO)."""
        customer = await qbo.create(
            "Customer",
            {
                "DisplayName": "Sdk",
                "domain": "QBO",
                "sparse": False,
                "status": None,
                "CustomField": [],
                "Notes": None,
                "Balance": "",
                "PrimaryEmailAddr": {"Address": "sdk@example.com", "Default": None},
            },
        )
        update = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Sdk"}
        response = await qbo.post("/customer", update)
        assert response.status_code == 200, response.text

    async def test_batch_item_with_unknown_property_faults_alone(self, qbo: QBO) -> None:
        body = {
            "BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Good"}},
                {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Bad", "X": 1}},
            ]
        }
        items = (await qbo.post("/batch", body)).json()["BatchItemResponse"]
        assert items[0]["Customer"]["DisplayName"] == "Good"
        assert is_2010(items[1]["Fault"]["Error"][0])


class TestWrongTypes:
    @pytest.mark.parametrize(
        "extra",
        [
            {"CurrencyRef": "USD"},  # a string where a ReferenceType object is expected
            {"DisplayName": {"value": "Ann"}},  # an object where a string is expected
            {"Balance": "ten"},  # a non-numeric string for a decimal
            {"Active": "yes"},  # a non-boolean for a boolean
            {"Taxable": [True]},  # a list for a boolean
            {"OtherAddr": {"City": "Paris"}},  # an object where a list is expected
        ],
        ids=["string-for-object", "object-for-string", "decimal", "boolean", "list", "not-list"],
    )
    async def test_wrong_type_refuses(self, qbo: QBO, extra: dict[str, Any]) -> None:
        body = {"DisplayName": "Typed", **extra}
        assert is_2010(await refused(qbo, "Customer", body))
        assert await count(qbo, "Customer") == 0

    async def test_object_for_line_detail_type_refuses(self, qbo: QBO) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Enum"})
        body = invoice(customer["Id"])
        body["Line"][0]["DetailType"] = {"value": "SalesItemLineDetail"}
        assert is_2010(await refused(qbo, "Invoice", body))

    async def test_jackson_coercions_pass(self, qbo: QBO) -> None:
        customer = await qbo.create(
            "Customer", {"DisplayName": "Coerced", "CompanyName": 42, "Taxable": "true"}
        )
        assert customer["CompanyName"] in (42, "42")
        body = invoice(customer["Id"])
        body["Line"][0]["Amount"] = "10.00"
        created = await qbo.create("Invoice", body)
        assert created["TotalAmt"] > 0


class TestLengths:
    @pytest.mark.parametrize(
        ("entity", "field", "limit"),
        [
            ("Customer", "DisplayName", 500),
            ("Customer", "GivenName", 100),
            ("Customer", "CompanyName", 100),
            ("Customer", "PrintOnCheckName", 110),
            ("Customer", "Notes", 2000),
            ("Vendor", "FamilyName", 100),
            ("Item", "Name", 100),
        ],
    )
    async def test_over_long_name_field_refuses_with_2050(
        self, qbo: QBO, entity: str, field: str, limit: int
    ) -> None:
        body: dict[str, Any] = {"DisplayName": "Long one"} if entity != "Item" else {}
        if entity == "Item":
            body = {"Type": "NonInventory", "Name": "Short"}
        body[field] = "x" * (limit + 1)
        error = await refused(qbo, entity, body)
        assert error["code"] == "2050"
        assert error["Message"] == LENGTH_MESSAGE
        assert error["Detail"] == (
            "String length specified does not match the supported length. "
            f"Min:0 Max:{limit} supported. Supplied length:{limit + 1}"
        )
        assert error["element"] == field
        body[field] = "y" * limit
        created = await qbo.create(entity, body)
        assert created[field] == "y" * limit

    @pytest.mark.parametrize(
        ("path", "limit"),
        [
            (("DocNumber",), 21),
            (("PrivateNote",), 4000),
            (("CustomerMemo", "value"), 1000),
            (("BillAddr", "City"), 255),
            (("BillAddr", "PostalCode"), 30),
            (("BillAddr", "Line1"), 500),
            (("BillEmail", "Address"), 100),
            (("BillEmailCc", "Address"), 200),
            (("Line", 0, "Description"), 4000),
        ],
        ids=lambda p: ".".join(map(str, p)) if isinstance(p, tuple) else str(p),
    )
    async def test_over_long_invoice_field_refuses_with_2050(
        self, qbo: QBO, path: tuple[Any, ...], limit: int
    ) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Lengths"})
        body = invoice(customer["Id"])
        target: Any = body
        for key in path[:-1]:
            if isinstance(key, str) and key not in target:
                target[key] = {}
            target = target[key]
        target[path[-1]] = "z" * (limit + 1)
        error = await refused(qbo, "Invoice", body)
        assert error["code"] == "2050"
        assert f"Max:{limit} supported. Supplied length:{limit + 1}" in error["Detail"]
        assert await count(qbo, "Invoice") == 0

    async def test_length_counts_utf16_units_like_java(self, qbo: QBO) -> None:
        # 251 emoji are 502 UTF-16 code units: over DisplayName's 500.
        error = await refused(qbo, "Customer", {"DisplayName": "\U0001f600" * 251})
        assert error["code"] == "2050"
        assert error["Detail"].endswith("Supplied length:502")

    async def test_unknown_property_is_reported_before_length(self, qbo: QBO) -> None:
        body = {"DisplayName": "x" * 501, "Nickname": "A"}
        assert is_2010(await refused(qbo, "Customer", body))


class TestEmails:
    async def test_primary_email_over_100_refuses(self, qbo: QBO) -> None:
        address = "a" * 90 + "@example.com"  # 102 characters
        body = {"DisplayName": "Mail", "PrimaryEmailAddr": {"Address": address}}
        error = await refused(qbo, "Customer", body)
        assert error["code"] == "2050"
        assert "Max:100 supported. Supplied length:102" in error["Detail"]

    async def test_bill_email_is_not_syntax_checked(self, qbo: QBO) -> None:
        """Intuit's XSD (Invoice.BillEmail): an invalid address gets no error, QBO only does
        not send to it. Whether a comma-separated list is stored or used is UNKNOWN
        (verify-qbo "multi-address BillEmail")."""
        customer = await qbo.create("Customer", {"DisplayName": "Billed"})
        body = invoice(customer["Id"], BillEmail={"Address": "a@example.com, b@example.com"})
        created = await qbo.create("Invoice", body)
        assert created["BillEmail"]["Address"] == "a@example.com, b@example.com"
