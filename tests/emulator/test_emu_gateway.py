"""The gateway as QuickBooks really behaves: answers lost after a committed write, requestid
replay switched off, writes that finish after the caller gave up, and the throttles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from qbo_emulator.cli import build_parser, config_from_args

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


async def other_app(qbo: QBO, client_id: str = "second-app") -> QBO:
    """The same company as seen by another app (another OAuth client id)."""
    url = f"/_emulator/companies/{qbo.realm}/tokens"
    token = (await qbo.http.post(url, json={"client_id": client_id})).json()["access_token"]
    return QBO(qbo.http, qbo.emu, qbo.realm, token, "")


async def configure(qbo: QBO, **settings: Any) -> None:
    response = await qbo.http.patch("/_emulator/config", json=settings)
    assert response.status_code == 200, response.text


async def throttled(qbo: QBO) -> dict[str, int]:
    log = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/requests")).json()
    by_kind: dict[str, int] = log["throttled"]
    return by_kind


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["Fault"]["Error"][0]["code"]
    return code


class TestThrottles:
    async def test_15_requests_in_one_second_the_last_5_get_429(self, qbo: QBO) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        responses = [await qbo.get("/preferences") for _ in range(15)]
        assert loop.time() - start < 1.0, "the machine was too slow to test a 1 s window"
        assert [r.status_code for r in responses] == [200] * 10 + [429] * 5
        assert {error_code(r) for r in responses[10:]} == {"3001"}
        assert await throttled(qbo) == {"per_second": 5}

        async def window_passed() -> bool:
            return (await qbo.get("/preferences")).status_code == 200

        await wait_until(window_passed, timeout_s=3)
        assert loop.time() - start >= 1.0

    async def test_the_per_second_cap_is_per_app(self, qbo: QBO) -> None:
        second = await other_app(qbo)
        mine = [(await qbo.get("/preferences")).status_code for _ in range(10)]
        theirs = [(await second.get("/preferences")).status_code for _ in range(10)]
        assert mine == theirs == [200] * 10
        assert (await qbo.get("/preferences")).status_code == 429

    async def test_in_flight_cap_is_per_app(self, qbo: QBO) -> None:
        second = await other_app(qbo)
        qbo.emu.config.latency_ms = 100
        calls = [app.get("/preferences") for app in (qbo, second) for _ in range(10)]
        # 20 at once on one realm: over 10 in flight for the realm, but 10 for each app.
        assert {r.status_code for r in await asyncio.gather(*calls)} == {200}

    async def test_500_a_minute_is_per_realm_across_apps(self, qbo: QBO) -> None:
        await configure(qbo, rate_limit_per_minute=5)
        second = await other_app(qbo)
        statuses = [(await app.get("/preferences")).status_code for app in [qbo, second] * 3]
        assert statuses == [200] * 5 + [429]
        assert await throttled(qbo) == {"per_minute": 1}

    async def test_batch_caps_per_app_and_per_realm(self, qbo: QBO) -> None:
        await configure(qbo, batch_per_minute_per_app=2, batch_per_minute_per_realm=3)
        second = await other_app(qbo)
        batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Customer"}]}
        mine = [(await qbo.post("/batch", batch)).status_code for _ in range(3)]
        theirs = [(await second.post("/batch", batch)).status_code for _ in range(2)]
        assert mine == [200, 200, 429]
        assert theirs == [200, 429]
        assert await throttled(qbo) == {"batch_per_app": 1, "batch_per_realm": 1}
        # Plain requests are not batch requests.
        assert (await qbo.get("/preferences")).status_code == 200

    async def test_batch_requests_count_against_the_minute(self, qbo: QBO) -> None:
        await configure(qbo, rate_limit_per_minute=3)
        batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Customer"}]}
        assert [(await qbo.post("/batch", batch)).status_code for _ in range(3)] == [200] * 3
        assert (await qbo.get("/preferences")).status_code == 429

    async def test_xml_body_when_configured(self, qbo: QBO) -> None:
        await configure(qbo, throttle_format="xml", rate_limit_per_second=1)
        assert (await qbo.get("/preferences")).status_code == 200
        response = await qbo.get("/preferences")
        assert response.status_code == 429
        assert response.headers["content-type"].startswith("application/xml")
        assert b'<Error code="3001">' in response.content

    async def test_every_throttle_is_a_setting(self, qbo: QBO) -> None:
        settings = {
            "rate_limit_per_second": 20,
            "rate_limit_per_minute": 600,
            "max_in_flight": 12,
            "batch_per_minute_per_app": 50,
            "batch_per_minute_per_realm": 130,
        }
        await configure(qbo, **settings)
        current = (await qbo.http.get("/_emulator/config")).json()
        assert {key: current[key] for key in settings} == settings
        args = build_parser().parse_args(
            ["--rate-limit-per-second", "3", "--batch-per-minute-per-app", "4"]
        )
        config = config_from_args(args)
        assert (config.rate_limit_per_second, config.batch_per_minute_per_app) == (3, 4)
        assert (config.batch_per_minute_per_realm, config.max_in_flight) == (120, 10)

    async def test_a_throttled_write_leaves_the_after_write_fault_armed(self, qbo: QBO) -> None:
        await configure(qbo, rate_limit_per_second=1)
        await arm(qbo, kind="500_after_write", count=1)
        assert (await qbo.get("/preferences")).status_code == 200
        assert (await qbo.post("/customer", {"DisplayName": "Throttled"})).status_code == 429
        armed = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/faults")).json()["faults"]
        assert [(f["kind"], f["count"]) for f in armed] == [("500_after_write", 1)]
        assert await count(qbo.http, qbo.realm, "Customer") == 0
