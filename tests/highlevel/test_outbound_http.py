"""HighLevelHttp alone (httpx.MockTransport: unit tests of the HTTP client): the documented
headers, and a 429 waited out by the interval HighLevel names before the call is made again.
Answers are synthetic and minimal: a status and the X-RateLimit-* header names of
docs/oauth/Faqs.md."""

from __future__ import annotations

import httpx
import pytest

from app.integrations.highlevel.http import (
    HighLevelHttp,
    HighLevelUnauthorizedError,
    HighLevelUnavailableError,
    RateLimiter,
)


def _http(handler: httpx.MockTransport, sleeps: list[float]) -> HighLevelHttp:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    limiter = RateLimiter(burst=100, interval_s=10, daily=200_000, sleep=sleep)
    client = httpx.AsyncClient(transport=handler)
    return HighLevelHttp(client, "https://hl.test", limiter, sleep=sleep)


async def test_every_call_carries_the_bearer_token_and_version() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    http = _http(httpx.MockTransport(handler), [])
    assert await http.get("/contacts/", token="tok", params={"locationId": "L"}) == {"ok": True}
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert seen[0].headers["Version"] == "2021-07-28"


async def test_a_429_waits_the_named_interval_then_succeeds() -> None:
    answers = [
        httpx.Response(429, headers={"X-RateLimit-Interval-Milliseconds": "700"}),
        httpx.Response(200, json={"contact": {"id": "c1"}, "new": True}),
    ]
    sleeps: list[float] = []
    http = _http(httpx.MockTransport(lambda request: answers.pop(0)), sleeps)
    answer = await http.post("/contacts/upsert", token="t", json={}, location_id="L")
    assert answer["contact"] == {"id": "c1"}
    assert len(sleeps) == 1
    assert sleeps[0] == pytest.approx(0.7, abs=0.05)


async def test_a_spent_window_is_waited_before_the_next_call() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "2000"}
    sleeps: list[float] = []
    http = _http(
        httpx.MockTransport(lambda request: httpx.Response(200, json={}, headers=headers)), sleeps
    )
    await http.get("/contacts/", token="t", location_id="L")
    await http.get("/contacts/", token="t", location_id="L")
    assert len(sleeps) == 1
    assert 1.5 < sleeps[0] <= 2.0


async def test_lasting_failures_become_transient_and_401_is_typed() -> None:
    http = _http(httpx.MockTransport(lambda request: httpx.Response(503)), [])
    with pytest.raises(HighLevelUnavailableError):
        await http.get("/contacts/", token="t", location_id="L")
    http = _http(httpx.MockTransport(lambda request: httpx.Response(401)), [])
    with pytest.raises(HighLevelUnauthorizedError):
        await http.get("/contacts/", token="t", location_id="L")
