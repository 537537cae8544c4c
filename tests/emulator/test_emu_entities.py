"""Entity lifecycle rules: SyncToken, sparse/full updates, name uniqueness, name-list deletes."""

from __future__ import annotations

import pytest

from .conftest import QBO


def fault_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    return str(body["Fault"]["Error"][0]["code"])


class TestUpdates:
    async def test_sparse_update_bumps_synctoken_and_keeps_other_fields(self, qbo: QBO) -> None:
        created = await qbo.create(
            "Customer", {"DisplayName": "Bill", "GivenName": "Bill", "Notes": "n"}
        )
        response = await qbo.post(
            "/customer",
            {"Id": created["Id"], "SyncToken": "0", "sparse": True, "MiddleName": "Mark"},
        )
        updated = response.json()["Customer"]
        assert updated["SyncToken"] == "1"
        assert updated["MiddleName"] == "Mark"
        assert updated["Notes"] == "n"
        assert updated["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]

    async def test_sparse_update_with_empty_value_clears_field(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Clear", "Notes": "old"})
        body = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": ""}
        assert "Notes" not in (await qbo.post("/customer", body)).json()["Customer"]

    async def test_full_update_drops_omitted_fields(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Full", "Notes": "keep?"})
        response = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "DisplayName": "Full"}
        )
        assert "Notes" not in response.json()["Customer"]

    async def test_stale_synctoken_is_5010(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Stale"})
        ok = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "a"}
        )
        assert ok.status_code == 200
        stale = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "b"}
        )
        assert stale.status_code == 400
        assert fault_code(stale) == "5010"
        assert (await qbo.read("Customer", created["Id"]))["Notes"] == "a"

    async def test_update_of_missing_object_is_610(self, qbo: QBO) -> None:
        response = await qbo.post("/customer", {"Id": "77", "SyncToken": "0", "sparse": True})
        assert fault_code(response) == "610"

    async def test_display_name_cannot_be_removed(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Named"})
        response = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "GivenName": "G"}
        )
        assert response.json()["Customer"]["DisplayName"] == "Named"

    async def test_display_name_generated_from_name_parts(self, qbo: QBO) -> None:
        created = await qbo.create(
            "Customer", {"Title": "Dr", "GivenName": "Ada", "FamilyName": "Lovelace"}
        )
        assert created["DisplayName"] == "Dr Ada Lovelace"
        missing = await qbo.post("/customer", {"Notes": "no name"})
        assert fault_code(missing) == "2020"

    async def test_invalid_email_and_colon_rejected(self, qbo: QBO) -> None:
        bad_email = await qbo.post(
            "/customer", {"DisplayName": "E", "PrimaryEmailAddr": {"Address": "nope"}}
        )
        assert bad_email.status_code == 400
        colon = await qbo.post("/customer", {"DisplayName": "A:B"})
        assert colon.status_code == 400


class TestUniqueness:
    @pytest.mark.parametrize("other", ["Vendor", "Employee", "Customer"])
    async def test_display_name_unique_across_people(self, qbo: QBO, other: str) -> None:
        await qbo.create("Customer", {"DisplayName": "Smith Family Store"})
        response = await qbo.post(f"/{other.lower()}", {"DisplayName": "smith family  STORE"})
        assert response.status_code == 400
        assert fault_code(response) == "6240"

    async def test_inactive_customer_still_holds_its_name(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Dormant"})
        await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        assert fault_code(await qbo.post("/customer", {"DisplayName": "Dormant"})) == "6240"

    async def test_rename_frees_the_old_name(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Old"})
        await qbo.post(
            "/customer",
            {"Id": created["Id"], "SyncToken": "0", "sparse": True, "DisplayName": "New"},
        )
        assert (await qbo.post("/customer", {"DisplayName": "Old"})).status_code == 200

    async def test_item_name_unique(self, qbo: QBO) -> None:
        body = {"Name": "Garden Design", "Type": "Service", "IncomeAccountRef": {"value": "1"}}
        item = await qbo.create("Item", body)
        assert item["IncomeAccountRef"]["name"] == "Services"
        assert fault_code(await qbo.post("/item", {**body, "Name": "garden design"})) == "6240"

    async def test_service_item_needs_income_account(self, qbo: QBO) -> None:
        assert (
            fault_code(await qbo.post("/item", {"Name": "No account", "Type": "Service"})) == "2020"
        )


class TestNameListLifecycle:
    async def test_name_list_entities_cannot_be_deleted(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Undeletable"})
        response = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0"}, operation="delete"
        )
        assert response.status_code == 400
        assert fault_code(response) == "500"
        assert (await qbo.read("Customer", created["Id"]))["Active"] is True

    async def test_inactivating_customer_with_open_balance_fails(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Owes"})
        line = {"DetailType": "SalesItemLineDetail", "Amount": 10}
        await qbo.create("Invoice", {"CustomerRef": {"value": created["Id"]}, "Line": [line]})
        response = await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        assert fault_code(response) == "6000"

    async def test_reference_to_inactive_customer_is_610(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Inactive"})
        await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        line = {"DetailType": "SalesItemLineDetail", "Amount": 10}
        response = await qbo.post(
            "/invoice", {"CustomerRef": {"value": created["Id"]}, "Line": [line]}
        )
        assert fault_code(response) == "610"

    async def test_company_info_and_preferences(self, qbo: QBO) -> None:
        info = (await qbo.get(f"/companyinfo/{qbo.realm}")).json()["CompanyInfo"]
        assert info["Country"] == "US"
        prefs = (await qbo.get("/preferences")).json()["Preferences"]
        assert prefs["TaxPrefs"]["PartnerTaxEnabled"] is True
        assert prefs["CurrencyPrefs"]["HomeCurrency"] == {"value": "USD"}
        tax_codes = (await qbo.query("select * from TaxCode")).json()["QueryResponse"]["TaxCode"]
        assert tax_codes
        assert (await qbo.post("/taxcode", {"Name": "X"})).status_code == 400

    async def test_unknown_entity_is_unsupported(self, qbo: QBO) -> None:
        response = await qbo.get("/widget/1")
        assert fault_code(response) == "500"
