"""The /_emulator control API keeps the exact shapes outside tools rely on."""

from __future__ import annotations

import httpx

from qbo_emulator.state import Emulator

from .conftest import QBO, new_company


class TestCompanies:
    async def test_create_shape_and_defaults(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        response = await http.post("/_emulator/companies", json={})
        assert response.status_code == 201
        assert set(response.json()) == {"realm_id"}
        company = emu.companies[response.json()["realm_id"]]
        assert (company.country, company.currency, str(company.sales_tax_rate)) == (
            "US",
            "USD",
            "8.25",
        )

    async def test_create_with_every_option(self, http: httpx.AsyncClient, emu: Emulator) -> None:
        spec = {
            "country": "GB",
            "currency": "GBP",
            "multicurrency": True,
            "sales_tax_rate": "0",
            "tax_codes": [{"name": "20.0% S", "rate": "20"}, {"name": "Zero", "rate": "0"}],
            "custom_txn_numbers": True,
            "name": "Brit Ltd",
        }
        realm = (await http.post("/_emulator/companies", json=spec)).json()["realm_id"]
        detail = (await http.get(f"/_emulator/companies/{realm}")).json()
        assert detail["name"] == "Brit Ltd"
        assert detail["multicurrency"] is True
        assert detail["counts"]["TaxCode"] == 2
        assert detail["custom_txn_numbers"] is True

    async def test_custom_txn_numbers_leave_docnumber_empty(
        self, http: httpx.AsyncClient, emu: Emulator
    ) -> None:
        qbo = await new_company(http, emu, custom_txn_numbers=True)
        await qbo.create("Customer", {"DisplayName": "C"})
        inv = await qbo.create(
            "Invoice",
            {
                "CustomerRef": {"value": "1"},
                "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1}],
            },
        )
        assert "DocNumber" not in inv

    async def test_unknown_realm_is_404(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/_emulator/companies/nope/seed", json={"customers": 1})
        assert response.status_code == 404


class TestSeedAndLogs:
    async def test_seed_10000_each(self, qbo: QBO) -> None:
        # How fast: bench/emulator_throughput.py; a wall-clock bound fails on a busy machine.
        response = await qbo.http.post(
            f"/_emulator/companies/{qbo.realm}/seed", json={"customers": 10000, "invoices": 10000}
        )
        assert response.json() == {"customers": 10000, "invoices": 10000}
        count = (await qbo.query("select count(*) from Invoice")).json()["QueryResponse"][
            "totalCount"
        ]
        assert count == 10000

    async def test_requests_log_shape(self, qbo: QBO) -> None:
        await qbo.post("/customer", {"DisplayName": "Logged"})
        await qbo.get("/customer/1")
        await qbo.get("/customer/999")
        log = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/requests")).json()
        assert log["total"] == 3
        assert log["by_method_path"] == {
            "POST /customer": 1,
            "GET /customer/1": 1,
            "GET /customer/999": 1,
        }
        first = log["requests"][0]
        assert set(first) == {"method", "path", "query", "status", "at"}
        assert (first["method"], first["path"], first["status"]) == ("POST", "/customer", 200)
        assert log["requests"][2]["status"] == 400

    async def test_faults_shapes(self, qbo: QBO) -> None:
        url = f"/_emulator/companies/{qbo.realm}/faults"
        armed = (await qbo.http.post(url, json={"kind": "503", "count": 2})).json()
        assert armed["faults"][0]["kind"] == "503"
        assert armed["faults"][0]["count"] == 2
        assert (await qbo.http.post(url, json={"kind": "teapot"})).status_code == 400
        assert (await qbo.http.delete(url)).json() == {"faults": []}

    async def test_reset_forgets_everything(self, qbo: QBO, emu: Emulator) -> None:
        assert (await qbo.http.post("/_emulator/reset")).json() == {"reset": True}
        assert emu.companies == {}
        assert (await qbo.get("/preferences")).status_code == 401

    async def test_config_patch(self, http: httpx.AsyncClient) -> None:
        patched = (
            await http.patch("/_emulator/config", json={"latency_ms": 5, "max_in_flight": 3})
        ).json()
        assert patched["latency_ms"] == 5
        assert patched["max_in_flight"] == 3
        assert (await http.patch("/_emulator/config", json={"nope": 1})).status_code == 400

    async def test_entity_listing_includes_inactive(self, qbo: QBO) -> None:
        created = await qbo.create("Customer", {"DisplayName": "Hidden"})
        await qbo.post(
            "/customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        listed = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/entities/Customer")).json()
        assert listed["count"] == 1
        assert listed["Customer"][0]["Active"] is False
        one = await qbo.http.get(
            f"/_emulator/companies/{qbo.realm}/entities/customer/{created['Id']}"
        )
        assert one.json()["Customer"]["DisplayName"] == "Hidden (deleted)"  # as QBO shows it
