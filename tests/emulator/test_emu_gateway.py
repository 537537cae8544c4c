"""The gateway as QuickBooks really behaves: answers lost after a committed write, requestid
replay switched off, writes that finish after the caller gave up, and the throttles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from .conftest import QBO


async def arm(qbo: QBO, **rule: Any) -> list[dict[str, Any]]:
    response = await qbo.http.post(f"/_emulator/companies/{qbo.realm}/faults", json=rule)
    assert response.status_code == 200, response.text
    armed: list[dict[str, Any]] = response.json()["faults"]
    return armed


async def count(http: httpx.AsyncClient, realm: str, entity: str) -> int:
    listed = (await http.get(f"/_emulator/companies/{realm}/entities/{entity}")).json()
    total: int = listed["count"]
    return total


async def wait_until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class TestAnswerLostAfterWrite:
    async def test_500_after_write_commits_then_answers_system_fault(self, qbo: QBO) -> None:
        await arm(qbo, kind="500_after_write", count=1)
        response = await qbo.post("/customer", {"DisplayName": "Committed"}, requestid="w-1")
        assert response.status_code == 500
        assert response.json()["Fault"]["type"] == "SystemFault"
        assert await count(qbo.http, qbo.realm, "Customer") == 1

    async def test_reads_and_queries_do_not_use_up_the_fault(self, qbo: QBO) -> None:
        await arm(qbo, kind="500_after_write", count=1)
        assert (await qbo.get("/preferences")).status_code == 200
        assert (await qbo.query("select * from Customer")).status_code == 200
        posted_query = await qbo.http.post(
            qbo.base + "/query",
            content=b"select * from Customer",
            headers={**qbo.headers(), "Content-Type": "application/text"},
        )
        assert posted_query.status_code == 200
        armed = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/faults")).json()["faults"]
        assert [(f["kind"], f["count"]) for f in armed] == [("500_after_write", 1)]
        assert (await qbo.post("/customer", {"DisplayName": "Hit"})).status_code == 500

    async def test_a_retry_with_the_same_requestid_gets_the_original_answer(self, qbo: QBO) -> None:
        await arm(qbo, kind="500_after_write", count=1)
        body = {"DisplayName": "Once only"}
        assert (await qbo.post("/customer", body, requestid="w-2")).status_code == 500
        retry = await qbo.post("/customer", body, requestid="w-2")
        assert retry.status_code == 200
        assert retry.json()["Customer"]["DisplayName"] == "Once only"
        assert await count(qbo.http, qbo.realm, "Customer") == 1

    async def test_a_retry_without_requestid_meets_the_committed_object(self, qbo: QBO) -> None:
        await arm(qbo, kind="drop_after_write", probability=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            await qbo.post("/customer", {"DisplayName": "Twice?"})
        await qbo.http.delete(f"/_emulator/companies/{qbo.realm}/faults")
        again = await qbo.post("/customer", {"DisplayName": "Twice?"})
        assert again.json()["Fault"]["Error"][0]["code"] == "6240"

    async def test_drop_after_write_in_process_is_a_transport_error(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Payer"})
        await arm(qbo, kind="drop_after_write", count=1)
        payment = {"CustomerRef": {"value": "1"}, "TotalAmt": 25}
        with pytest.raises(httpx.TransportError):
            await qbo.post("/payment", payment, requestid="pay-1")
        assert await count(qbo.http, qbo.realm, "Payment") == 1
        replay = await qbo.post("/payment", payment, requestid="pay-1")
        assert replay.status_code == 200
        assert await count(qbo.http, qbo.realm, "Payment") == 1

    async def test_batch_is_a_write(self, qbo: QBO) -> None:
        await arm(qbo, kind="500_after_write", count=1)
        items = [{"bId": "1", "operation": "create", "Customer": {"DisplayName": "In batch"}}]
        assert (await qbo.post("/batch", {"BatchItemRequest": items})).status_code == 500
        assert await count(qbo.http, qbo.realm, "Customer") == 1


async def socket_company(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A company on an emulator served by uvicorn: its realm and the headers of a caller."""
    realm = (await http.post("/_emulator/companies", json={})).json()["realm_id"]
    token = (await http.post(f"/_emulator/companies/{realm}/tokens")).json()["access_token"]
    return realm, {"Authorization": f"Bearer {token}", "Accept": "application/json"}


class TestOverASocket:
    async def test_drop_after_write_is_peer_closed_and_committed(self, emulator: str) -> None:
        async with httpx.AsyncClient(base_url=emulator) as http:
            realm, headers = await socket_company(http)
            rule = {"kind": "drop_after_write", "count": 1}
            await http.post(f"/_emulator/companies/{realm}/faults", json=rule)
            url = f"/v3/company/{realm}/customer?requestid=s-1"
            body = {"DisplayName": "Socket"}
            with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
                await http.post(url, json=body, headers=headers)
            assert await count(http, realm, "Customer") == 1
            replay = await http.post(url, json=body, headers=headers)
            assert replay.status_code == 200
            assert replay.json()["Customer"]["DisplayName"] == "Socket"
            assert await count(http, realm, "Customer") == 1

    async def test_slow_write_commits_after_the_client_timed_out(self, emulator: str) -> None:
        async with httpx.AsyncClient(base_url=emulator) as http:
            realm, headers = await socket_company(http)
            rule = {"kind": "slow", "count": 1, "delay_ms": 800}
            await http.post(f"/_emulator/companies/{realm}/faults", json=rule)
            with pytest.raises(httpx.ReadTimeout):
                await http.post(
                    f"/v3/company/{realm}/customer",
                    json={"DisplayName": "Late"},
                    headers=headers,
                    timeout=0.2,
                )
            assert await count(http, realm, "Customer") == 0

            async def committed() -> bool:
                return await count(http, realm, "Customer") == 1

            await wait_until(committed)


class TestRequestIdSwitch:
    async def switch_off(self, qbo: QBO) -> None:
        response = await qbo.http.patch(
            f"/_emulator/companies/{qbo.realm}", json={"honor_requestid": False}
        )
        assert response.status_code == 200, response.text

    async def test_same_requestid_twice_creates_two_payments(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Payer"})
        await self.switch_off(qbo)
        payment = {"CustomerRef": {"value": "1"}, "TotalAmt": 10}
        first = await qbo.post("/payment", payment, requestid="dup-pay")
        second = await qbo.post("/payment", payment, requestid="dup-pay")
        assert first.status_code == second.status_code == 200
        assert first.json()["Payment"]["Id"] != second.json()["Payment"]["Id"]
        assert await count(qbo.http, qbo.realm, "Payment") == 2

    async def test_same_requestid_different_body_creates_two_customers(self, qbo: QBO) -> None:
        await self.switch_off(qbo)
        await qbo.create("Customer", {"DisplayName": "One"}, requestid="dup-cust")
        await qbo.create("Customer", {"DisplayName": "Two"}, requestid="dup-cust")
        assert await count(qbo.http, qbo.realm, "Customer") == 2
