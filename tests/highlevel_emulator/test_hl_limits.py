"""Rate limits (docs/oauth/Authorization.md: 100 requests / 10 s burst and 200,000 / day per app
and location, with X-RateLimit-* headers)."""

from __future__ import annotations

from tests.highlevel_emulator.conftest import Stand, bearer

URL = "/contacts/search/duplicate"


async def test_headers_report_the_documented_limits(stand: Stand) -> None:
    await stand.location()
    headers = bearer(await stand.connect())
    response = await stand.http.get(URL, params={"locationId": "LOC1"}, headers=headers)
    assert response.headers["X-RateLimit-Max"] == "100"
    assert response.headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["X-RateLimit-Limit-Daily"] == "200000"
    assert response.headers["X-RateLimit-Remaining"] == "99"
    assert response.headers["X-RateLimit-Daily-Remaining"] == "199999"


async def test_burst_limit_answers_429_then_recovers(stand: Stand) -> None:
    await stand.control("PATCH", "/config", {"rate_limit_burst": 3, "rate_limit_interval_ms": 200})
    await stand.location()
    headers = bearer(await stand.connect())
    statuses = []
    for _ in range(4):
        response = await stand.http.get(URL, params={"locationId": "LOC1"}, headers=headers)
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.json()["statusCode"] == 429
    stand.emu.limiter.bursts.clear()  # the window is over (a fresh window, without sleeping)
    again = await stand.http.get(URL, params={"locationId": "LOC1"}, headers=headers)
    assert again.status_code == 200


async def test_limits_are_per_location(stand: Stand) -> None:
    await stand.control("PATCH", "/config", {"rate_limit_burst": 1})
    await stand.location("LOC1")
    await stand.location("LOC2")
    one, two = bearer(await stand.connect("LOC1")), bearer(await stand.connect("LOC2"))
    assert (
        await stand.http.get(URL, params={"locationId": "LOC1"}, headers=one)
    ).status_code == 200
    assert (
        await stand.http.get(URL, params={"locationId": "LOC2"}, headers=two)
    ).status_code == 200
    assert (
        await stand.http.get(URL, params={"locationId": "LOC1"}, headers=one)
    ).status_code == 429


async def test_daily_limit(stand: Stand) -> None:
    await stand.control("PATCH", "/config", {"rate_limit_daily": 2})
    await stand.location()
    headers = bearer(await stand.connect())
    codes = [
        (await stand.http.get(URL, params={"locationId": "LOC1"}, headers=headers)).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


async def test_config_rejects_unknown_or_mistyped_settings(stand: Stand) -> None:
    bad = await stand.http.patch("/_emulator/config", json={"rate_limit_burst": "many"})
    assert bad.status_code == 400
    unknown = await stand.http.patch("/_emulator/config", json={"nope": 1})
    assert unknown.status_code == 400
    url = await stand.http.patch("/_emulator/config", json={"webhook_url": 5})
    assert url.status_code == 400
    ok = await stand.http.patch("/_emulator/config", json={"webhook_url": None})
    assert ok.json()["webhook_url"] is None
