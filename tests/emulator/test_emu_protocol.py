"""Gateway behaviour: auth faults, requestid replay, CDC, batch, throttling, injected faults."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from qbo_emulator.guard import DroppedConnection

from .conftest import QBO
from .test_emu_entities import fault_code


async def arm(qbo: QBO, **rule: Any) -> None:
    response = await qbo.http.post(f"/_emulator/companies/{qbo.realm}/faults", json=rule)
    assert response.status_code == 200


class TestAuthentication:
    async def test_missing_or_unknown_token_is_401_lowercase_fault(self, qbo: QBO) -> None:
        response = await qbo.http.get(qbo.base + "/customer/1")
        assert response.status_code == 401
        body = response.json()
        assert body["fault"]["type"] == "AUTHENTICATION"
        error = body["fault"]["error"][0]
        assert error["code"] == "3200"
        assert "AuthenticationFailed" in error["message"]

    async def test_expired_token_via_control_api(self, qbo: QBO) -> None:
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/tokens/expire")
        response = await qbo.get("/customer/1")
        assert response.status_code == 401
        assert response.json()["fault"]["error"][0]["detail"].startswith("Token expired")

    async def test_ttl_expiry_with_clock(self, qbo: QBO) -> None:
        assert (await qbo.get("/preferences")).status_code == 200
        await qbo.http.post("/_emulator/clock", json={"advance_s": 3601})
        assert (await qbo.get("/preferences")).status_code == 401

    async def test_revoked_token(self, qbo: QBO) -> None:
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/tokens/revoke")
        assert (await qbo.get("/preferences")).status_code == 401

    async def test_token_for_another_realm_is_403(self, qbo: QBO, uk: QBO) -> None:
        response = await qbo.http.get(uk.base + "/preferences", headers=qbo.headers())
        assert response.status_code == 403
        assert response.json()["Fault"]["Error"][0]["code"] == "3100"

    async def test_every_response_has_intuit_tid(self, qbo: QBO) -> None:
        first = await qbo.get("/preferences")
        second = await qbo.http.get("/_emulator/health")
        assert first.headers["intuit_tid"] != second.headers["intuit_tid"]


class TestRequestId:
    async def test_repeat_returns_original_and_changes_nothing(self, qbo: QBO) -> None:
        body = {"DisplayName": "Once"}
        first = await qbo.post("/customer", body, requestid="req-1")
        second = await qbo.post("/customer", {"DisplayName": "Different"}, requestid="req-1")
        assert second.status_code == 200
        assert second.content == first.content
        listed = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/entities/Customer")).json()
        assert listed["count"] == 1

    async def test_fault_is_replayed_too(self, qbo: QBO) -> None:
        first = await qbo.post("/customer", {"Notes": "no name"}, requestid="bad")
        again = await qbo.post("/customer", {"DisplayName": "Now valid"}, requestid="bad")
        assert first.status_code == again.status_code == 400
        assert first.content == again.content

    async def test_different_ids_create_twice(self, qbo: QBO) -> None:
        line = {"DetailType": "SalesItemLineDetail", "Amount": 5}
        await qbo.create("Customer", {"DisplayName": "C"})
        for request_id in ("a", "b", "a"):
            await qbo.post(
                "/invoice", {"CustomerRef": {"value": "1"}, "Line": [line]}, requestid=request_id
            )
        assert (await qbo.query("select count(*) from Invoice")).json()["QueryResponse"][
            "totalCount"
        ] == 2


class TestCdc:
    async def test_changes_and_deletes_since(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "Before"})
        await qbo.http.post("/_emulator/clock", json={"advance_s": 120})
        since = qbo.emu.clock.meta_time(qbo.emu.clock.now() - 1)
        await qbo.create("Customer", {"DisplayName": "After"})
        line = {"DetailType": "SalesItemLineDetail", "Amount": 5}
        inv = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        await qbo.post("/invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="delete")
        body = (await qbo.get("/cdc", entities="Customer,Invoice", changedSince=since)).json()
        customers, invoices = body["CDCResponse"][0]["QueryResponse"]
        assert [c["DisplayName"] for c in customers["Customer"]] == ["After"]
        assert invoices["Invoice"][-1] == {
            "status": "Deleted",
            "domain": "QBO",
            "Id": inv["Id"],
            "MetaData": invoices["Invoice"][-1]["MetaData"],
        }
        assert "status" not in invoices["Invoice"][0]

    async def test_window_cap_and_unsupported(self, qbo: QBO) -> None:
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/seed", json={"customers": 1200})
        today = qbo.emu.clock.pacific().date().isoformat()
        body = (await qbo.get("/cdc", entities="Customer", changedSince=today)).json()
        assert len(body["CDCResponse"][0]["QueryResponse"][0]["Customer"]) == 1000
        assert (await qbo.get("/cdc", entities="TaxCode", changedSince=today)).status_code == 400
        await qbo.http.post("/_emulator/clock", json={"advance_s": 31 * 86400})
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/tokens/expire")
        tokens = (await qbo.http.post(f"/_emulator/companies/{qbo.realm}/tokens")).json()
        qbo.token = tokens["access_token"]
        assert (await qbo.get("/cdc", entities="Customer", changedSince=today)).status_code == 400


class TestBatch:
    async def test_items_are_independent_and_matched_by_bid(self, qbo: QBO) -> None:
        items = [
            {"bId": "ok", "operation": "create", "Customer": {"DisplayName": "Batch A"}},
            {"bId": "dup", "operation": "create", "Customer": {"DisplayName": "Batch A"}},
            {"bId": "q", "Query": "select count(*) from Customer"},
            {"bId": "bad", "Query": "select * from Customer where a = 'x' or b = 'y'"},
        ]
        body = (await qbo.post("/batch", {"BatchItemRequest": items})).json()
        got = {item["bId"]: item for item in body["BatchItemResponse"]}
        assert got["ok"]["Customer"]["DisplayName"] == "Batch A"
        assert got["dup"]["Fault"]["Error"][0]["code"] == "6240"
        assert "totalCount" in got["q"]["QueryResponse"]
        assert got["bad"]["Fault"]["Error"][0]["code"] == "4000"

    async def test_more_than_30_items_rejected(self, qbo: QBO) -> None:
        items = [{"bId": str(n), "Query": "select * from Customer"} for n in range(31)]
        response = await qbo.post("/batch", {"BatchItemRequest": items})
        assert response.status_code == 400


class TestThrottling:
    async def test_20_concurrent_requests_over_10_in_flight_get_429(self, qbo: QBO) -> None:
        qbo.emu.config.latency_ms = 100
        responses = await asyncio.gather(*(qbo.get("/preferences") for _ in range(20)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) == 10
        assert statuses.count(429) == 10
        throttled = next(r for r in responses if r.status_code == 429).json()
        error = throttled["Fault"]["Error"][0]
        assert throttled["Fault"]["type"] == "SERVICE"
        assert error["code"] == "3001"
        assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"

    async def test_requests_per_minute(self, qbo: QBO) -> None:
        qbo.emu.config.rate_limit_per_minute = 5
        statuses = [(await qbo.get("/preferences")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2

    async def test_xml_throttle_body(self, qbo: QBO) -> None:
        await arm(qbo, kind="429", count=1, format="xml")
        response = await qbo.get("/preferences")
        assert response.status_code == 429
        assert response.headers["content-type"].startswith("application/xml")
        assert b'<Error code="3001">' in response.content


class TestInjectedFaults:
    @pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("503", 503)])
    async def test_next_n_requests(self, qbo: QBO, kind: str, status: int) -> None:
        await arm(qbo, kind=kind, count=2)
        statuses = [(await qbo.get("/preferences")).status_code for _ in range(3)]
        assert statuses == [status, status, 200]

    async def test_500_is_system_fault(self, qbo: QBO) -> None:
        await arm(qbo, kind="500", count=1)
        body = (await qbo.get("/preferences")).json()
        assert body["Fault"]["type"] == "SystemFault"

    async def test_injected_401_expires_the_token(self, qbo: QBO) -> None:
        await arm(qbo, kind="401", count=1)
        assert (await qbo.get("/preferences")).status_code == 401
        assert (await qbo.get("/preferences")).status_code == 401  # a refresh is needed

    async def test_drop_raises_transport_error_in_process(self, qbo: QBO) -> None:
        await arm(qbo, kind="drop", count=1)
        with pytest.raises(httpx.TransportError):
            await qbo.get("/preferences")
        assert issubclass(DroppedConnection, httpx.RemoteProtocolError)
        assert (await qbo.get("/preferences")).status_code == 200

    async def test_slow_adds_delay(self, qbo: QBO) -> None:
        await arm(qbo, kind="slow", count=1, delay_ms=200)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert (await qbo.get("/preferences")).status_code == 200
        assert loop.time() - start >= 0.19

    async def test_probability_and_clear(self, qbo: QBO) -> None:
        await arm(qbo, kind="500", probability=1.0)
        assert (await qbo.get("/preferences")).status_code == 500
        cleared = await qbo.http.delete(f"/_emulator/companies/{qbo.realm}/faults")
        assert cleared.json() == {"faults": []}
        assert (await qbo.get("/preferences")).status_code == 200

    async def test_injected_fault_does_not_execute_write(self, qbo: QBO) -> None:
        await arm(qbo, kind="503", count=1)
        assert (await qbo.post("/customer", {"DisplayName": "Never"})).status_code == 503
        assert (
            fault_code(await qbo.query("select * from Customer where DisplayName = 'x' or"))
            == "4000"
        )
        assert (await qbo.query("select count(*) from Customer")).json()["QueryResponse"][
            "totalCount"
        ] == 0


class TestRequestIdRace:
    async def test_concurrent_retries_with_same_id_create_once(self, qbo: QBO) -> None:
        qbo.emu.config.latency_ms = 50
        responses = await asyncio.gather(
            *(qbo.post("/customer", {"DisplayName": "Racer"}, requestid="same") for _ in range(3))
        )
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert len({r.content for r in responses}) == 1
        listed = (await qbo.http.get(f"/_emulator/companies/{qbo.realm}/entities/Customer")).json()
        assert listed["count"] == 1
