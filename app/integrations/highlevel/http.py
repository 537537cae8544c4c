"""HighLevel's API v2 over HTTP: base URL, bearer token, `Version` header, limits and retries.

Sources (GoHighLevel/highlevel-api-docs):
- Every endpoint of apps/contacts.json, apps/invoices.json, apps/payments.json and apps/oauth.json
  requires the header `Version`, whose only value is `2021-07-28`, and a bearer token.
- docs/oauth/Faqs.md, "What are current rate limits for API 2.0?": 100 requests per 10 seconds
  (burst) and 200,000 a day per app and per resource (location), with the response headers
  `X-RateLimit-Limit-Daily`, `X-RateLimit-Daily-Remaining`, `X-RateLimit-Interval-Milliseconds`,
  `X-RateLimit-Max` and `X-RateLimit-Remaining`.
- HighLevel answers 429 when a limit is exceeded; its docs give no `Retry-After`, so one sent is
  honoured and otherwise the burst interval the headers name (else exponential backoff) is waited.

The limiter is per process: each process keeps under the burst limit for a location itself and
stops early when HighLevel's own headers say the window or the day is used up (the headers are the
authority across processes).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.errors import PermanentError, TransientError
from app.logging import get_logger

log = get_logger(__name__)

API_VERSION = "2021-07-28"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
# A 429 or an exhausted window is waited out in-call only up to this long; longer waits become a
# transient error so the caller's own retry (the callback deliverer's, a job's) takes over.
MAX_INLINE_WAIT_S = 15.0

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class HighLevelApiError(PermanentError):
    """HighLevel refused the request (a 4xx other than 401/429): the same call cannot succeed."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"HighLevel {method} {path} answered {status}: {body[:300]}")
        self.status = status
        self.body = body


class HighLevelUnauthorizedError(HighLevelApiError):
    """401: the token expired or was revoked; the token provider refreshes and calls again."""


class HighLevelUnavailableError(TransientError):
    """HighLevel is rate limiting or failing (429/5xx/network) beyond the retries of one call."""


@dataclass(slots=True)
class _Window:
    """Request times of one location in the current burst interval, and HighLevel's own counts."""

    sent: deque[float] = field(default_factory=deque)
    day_started: float = 0.0
    day_count: int = 0
    blocked_until: float = 0.0


class RateLimiter:
    """Keeps one process under HighLevel's burst and daily limits per location."""

    def __init__(
        self,
        *,
        burst: int,
        interval_s: float,
        daily: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._burst = burst
        self._interval = interval_s
        self._daily = daily
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[str, _Window] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def interval_s(self) -> float:
        return self._interval

    def _window(self, key: str) -> _Window:
        return self._windows.setdefault(key, _Window())

    async def acquire(self, key: str) -> None:
        """Wait for a slot in the location's burst window; a spent day is a transient error."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            window = self._window(key)
            now = self._clock()
            if now - window.day_started >= 86_400:
                window.day_started, window.day_count = now, 0
            if window.day_count >= self._daily:
                raise HighLevelUnavailableError(
                    f"HighLevel's daily limit of {self._daily} requests is used up for {key}",
                    retry_after_s=window.day_started + 86_400 - now,
                )
            wait = max(window.blocked_until - now, self._burst_wait(window, now))
            if wait > MAX_INLINE_WAIT_S:
                raise HighLevelUnavailableError(
                    f"HighLevel's rate limit for {key} frees up in {wait:.0f} s", retry_after_s=wait
                )
            if wait > 0:
                log.info("highlevel.rate_limit.wait", key=key, wait_s=round(wait, 3))
                await self._sleep(wait)
            now = self._clock()
            window.sent.append(now)
            window.day_count += 1

    def _burst_wait(self, window: _Window, now: float) -> float:
        while window.sent and now - window.sent[0] >= self._interval:
            window.sent.popleft()
        if len(window.sent) < self._burst:
            return 0.0
        return window.sent[0] + self._interval - now

    def observe(self, key: str, headers: httpx.Headers) -> None:
        """Follow HighLevel's own counts: a spent window or day blocks until it frees up."""
        window = self._window(key)
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        interval_ms = _int_header(headers, "X-RateLimit-Interval-Milliseconds")
        if remaining is not None and remaining <= 0:
            interval = interval_ms / 1000 if interval_ms else self._interval
            window.blocked_until = max(window.blocked_until, self._clock() + interval)
        daily_remaining = _int_header(headers, "X-RateLimit-Daily-Remaining")
        if daily_remaining is not None and daily_remaining <= 0:
            window.day_count = self._daily

    def block(self, key: str, seconds: float) -> None:
        window = self._window(key)
        window.blocked_until = max(window.blocked_until, self._clock() + seconds)


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _retry_wait(response: httpx.Response | None, attempt: int, interval_s: float) -> float:
    """Retry-After if given, else the burst interval HighLevel names on a 429, else backoff."""
    if response is not None:
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        if response.status_code == 429:
            interval_ms = _int_header(response.headers, "X-RateLimit-Interval-Milliseconds")
            return interval_ms / 1000 if interval_ms else interval_s
    backoff: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
    return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


class HighLevelHttp:
    """Calls HighLevel's API for one location at a time; JSON in, JSON out."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        limiter: RateLimiter,
        *,
        timeout_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._limiter = limiter
        self._timeout = timeout_s
        self._sleep = sleep

    async def get(
        self,
        path: str,
        *,
        token: str,
        params: dict[str, Any] | None = None,
        location_id: str | None = None,
    ) -> dict[str, Any]:
        return await self.request("GET", path, token=token, params=params, location_id=location_id)

    async def post(
        self,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        location_id: str | None = None,
    ) -> dict[str, Any]:
        return await self.request(
            "POST", path, token=token, json=json, params=params, location_id=location_id
        )

    async def put(
        self,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        location_id: str | None = None,
    ) -> dict[str, Any]:
        return await self.request(
            "PUT", path, token=token, json=json, params=params, location_id=location_id
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        location_id: str | None = None,
    ) -> dict[str, Any]:
        """One call, retried on 429/5xx/network errors with backoff; 401 and 4xx raise at once."""
        key = location_id or "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        last: str = ""
        for attempt in range(MAX_ATTEMPTS):
            await self._limiter.acquire(key)
            response: httpx.Response | None = None
            try:
                response = await self._client.request(
                    method,
                    self._base + path,
                    headers=self._headers(token),
                    json=json,
                    params=params,
                    timeout=self._timeout,
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                self._limiter.observe(key, response.headers)
                if response.status_code < 400:
                    return _json(response)
                last = f"{response.status_code}: {response.text[:200]}"
                if response.status_code == 401:
                    raise HighLevelUnauthorizedError(method, path, 401, response.text)
                if response.status_code not in RETRIED_STATUSES:
                    raise HighLevelApiError(method, path, response.status_code, response.text)
            wait = _retry_wait(response, attempt, self._limiter.interval_s)
            log.warning(
                "highlevel.http.retry",
                method=method,
                path=path,
                attempt=attempt + 1,
                wait_s=round(wait, 3),
                error=last,
            )
            if response is not None and response.status_code == 429:
                self._limiter.block(key, wait)
            if attempt + 1 < MAX_ATTEMPTS and wait <= MAX_INLINE_WAIT_S:
                if response is None or response.status_code != 429:
                    await self._sleep(wait)
                continue
            raise HighLevelUnavailableError(
                f"HighLevel {method} {path} failed: {last}", retry_after_s=wait
            )
        raise HighLevelUnavailableError(f"HighLevel {method} {path} failed: {last}")

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {"items": body}
