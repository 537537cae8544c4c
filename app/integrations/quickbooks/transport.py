"""One QBO HTTP exchange with auth, limits, retries and fault typing (qbo-api.md §2-4).

Per call: a token from the TokenProvider, a slot from the RequestLimiter (held only while the
request is in flight), `minorversion` on the URL, and the response body checked for a Fault
even on HTTP 200. Transient failures are retried with capped exponential backoff and full
jitter, reusing the same query parameters (so the same `requestid`, letting QBO replay a write
that did land); a 401 forces one token refresh and one retry; a 429 is raised at once.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from app import metrics
from app.integrations.quickbooks.errors import (
    TID_HEADERS,
    QboAuthError,
    QboError,
    QboThrottledError,
    QboTransientError,
    error_from_response,
)
from app.logging import get_logger

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class QboResponse:
    body: JsonObject
    intuit_tid: str | None


class TokenProvider(Protocol):
    async def access_token(
        self, realm_id: str, *, force_refresh: bool = False, refused: str | None = None
    ) -> str:
        """A token for the realm; with force_refresh, a new one unless `refused` was replaced."""
        ...


class RequestLimiter(Protocol):
    def slot(self, realm_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Wait for a free slot (at most 10 in flight and 500 a minute per realm)."""
        ...


def decode_json(text: str | bytes) -> Any:
    """QBO JSON with every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def encode_json(value: Any) -> bytes:
    """JSON whose Decimals are numbers written with their exact digits (never via float)."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"QBO cannot take a non-finite number: {value}")
        # Fixed-point text: Decimal("1E+2") would otherwise go out as an exponent.
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats lose cents; use Decimal for every number sent to QBO")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    if value is None or isinstance(value, str | int | bool):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot send {type(value).__name__} to QBO")


class Transport:
    """Sends requests for any realm; RealmClient adds the paths and the models."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        tokens: TokenProvider,
        limiter: RequestLimiter,
        minor_version: int,
        max_attempts: int,
        backoff_base_s: float,
        backoff_cap_s: float,
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._limiter = limiter
        self._minor_version = minor_version
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._rng = rng

    async def send(
        self,
        realm_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> QboResponse:
        """The decoded JSON object of a successful response; a typed QboError otherwise."""
        request = _Request(realm_id, method, path, {**(params or {})}, body, content_type)
        request.params["minorversion"] = str(self._minor_version)
        attempt, refreshed, force_refresh = 1, False, False
        while True:
            # Only the attempt right after a 401 forces a refresh; later ones reuse its token.
            force, force_refresh = force_refresh, False
            try:
                return await self._attempt(request, force_refresh=force)
            except QboAuthError as error:
                # The 401 was for this token: the refresh must replace it, however fresh it is.
                if refreshed:
                    raise
                refreshed = force_refresh = True
                self._log_failure(request, error, attempt, retrying=True)
            except QboThrottledError as error:
                self._log_failure(request, error, attempt, retrying=False)
                raise
            except QboTransientError as error:
                delay = self._retry_delay(attempt, error)
                self._log_failure(request, error, attempt, retrying=delay is not None)
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1
            except QboError as error:
                self._log_failure(request, error, attempt, retrying=False)
                raise

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    def _retry_delay(self, attempt: int, error: QboTransientError) -> float | None:
        if attempt >= self._max_attempts:
            return None
        wait = error.retry_after_s or 0.0
        # A server asking for a longer pause than we would ever sleep in-process: hand the
        # wait to the job runner, which honours retry_after_s, instead of holding a worker.
        if wait > self._backoff_cap_s:
            return None
        return max(wait, self.backoff(attempt))

    async def _attempt(self, request: _Request, *, force_refresh: bool) -> QboResponse:
        # The token is fetched before taking a slot: a refresh talks to Intuit's OAuth
        # server, not the accounting API the slot protects.
        token = await self._tokens.access_token(
            request.realm_id, force_refresh=force_refresh, refused=request.token
        )
        request.token = token
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if request.body is not None:
            headers["Content-Type"] = request.content_type
        url = f"{self._base_url}/v3/company/{request.realm_id}{request.path}"
        async with self._limiter.slot(request.realm_id):
            started = time.monotonic()
            try:
                response = await self._http.request(
                    request.method,
                    url,
                    params=request.params,
                    content=request.body,
                    headers=headers,
                )
            except httpx.TimeoutException as exc:
                metrics.observe_qbo_attempt(request.realm_id, None, time.monotonic() - started)
                raise QboTransientError(f"QBO request timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                metrics.observe_qbo_attempt(request.realm_id, None, time.monotonic() - started)
                raise QboTransientError(f"QBO connection failed ({type(exc).__name__})") from exc
            metrics.observe_qbo_attempt(
                request.realm_id, response.status_code, time.monotonic() - started
            )
        return _decode(response)

    def _log_failure(
        self, request: _Request, error: QboError, attempt: int, *, retrying: bool
    ) -> None:
        # A fresh logger per event: the app caches bound loggers on first use, and tests
        # capture logs by reconfiguring structlog.
        get_logger(__name__).warning(
            "qbo.request.failed",
            realm_id=request.realm_id,
            method=request.method,
            path=request.path,
            status=error.status,
            code=error.code,
            intuit_tid=error.intuit_tid,
            error=type(error).__name__,
            qbo_message=error.message,
            attempt=attempt,
            retrying=retrying,
        )


@dataclass(slots=True)
class _Request:
    realm_id: str
    method: str
    path: str
    params: dict[str, str]
    body: bytes | None
    content_type: str
    token: str | None = None  # the token of the last attempt (the one a 401 refused)


def _decode(response: httpx.Response) -> QboResponse:
    status, text = response.status_code, response.text
    if not 200 <= status < 300:
        raise error_from_response(status, response.headers, text)
    try:
        body = decode_json(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise QboTransientError(
            f"HTTP {status} from QBO with a body that is not a JSON object",
            status=status,
            intuit_tid=_tid(response),
        )
    if body.get("Fault") or body.get("fault"):
        # QBO sometimes answers 200 with a Fault body; it is still a failure.
        raise error_from_response(status, response.headers, text)
    return QboResponse(body, _tid(response))


def _tid(response: httpx.Response) -> str | None:
    return next((response.headers[h] for h in TID_HEADERS if h in response.headers), None)
