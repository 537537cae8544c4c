"""Signed delivery of one callback to the CRM (docs/design.md §2.4).

`POST {CRM_CALLBACK_URL}` with the envelope
``{"id", "type", "occurred_at", "location_id", "data"}`` (each type's `data`:
callback_payloads.py), signed like CRM events (§2.1) over the
exact bytes sent. The CRM deduplicates on ``id``, so a
callback may be sent again safely. Outcomes are typed for the outbox: 2xx returns, a verdict on
the callback itself raises `CallbackRejectedError`, anything worth retrying raises
`CallbackUnavailableError` (with the Retry-After the CRM asked for).

Only a verdict on the payload is permanent: 400, 413 and 422 say "these bytes are wrong", and
sending the same bytes again gets the same answer; 410 says the target is gone for good. Every
other answer may come from the CRM's own state, not from the callback: 401/403 during a secret
rotation or from a misconfigured gateway, 404/405 while a deploy has half its routes, 5xx and
network errors during an outage; those are retried until the give-up time, and an operator can
resend what failed once the CRM is fixed.

A reused keep-alive connection that the CRM closed at the moment we wrote to it (the CRM's idle
timeout and ours are often both 5 s) fails with `ReadError('')` or "Server disconnected without
sending a response". The CRM never saw that request, so it is sent again at once on a fresh
connection instead of waiting for the outbox's backoff.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx

from app.config import Settings, signing_secrets
from app.errors import PermanentError, TransientError
from app.integrations.crm.signatures import SIGNATURE_HEADER, sign
from app.logging import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT_S = 10.0
BODY_EXCERPT_BYTES = 300
MAX_READ_BYTES = 64 * 1024
# Answers about the callback itself; see the module docstring for why nothing else is final.
PERMANENT_STATUSES = frozenset({400, 410, 413, 422})
# What a reused connection the peer closed looks like; one immediate retry on a fresh connection.
STALE_CONNECTION_ERRORS = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


class CallbackRejectedError(PermanentError):
    """The CRM refused this callback's content (400/410/413/422); sending it again cannot help."""

    def __init__(self, status: int, excerpt: str) -> None:
        super().__init__(_with_excerpt(f"CRM rejected the callback with HTTP {status}", excerpt))
        self.status = status
        self.excerpt = excerpt


class CallbackUnavailableError(TransientError):
    """The CRM could not take the callback now (any other status, timeout, network)."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.status = status


def _with_excerpt(message: str, excerpt: str) -> str:
    return f"{message}: {excerpt}" if excerpt else message


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"a callback cannot carry a non-finite number: {value}")
        # Money is a decimal string (§2); fixed-point so 1E+2 goes out as "100".
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in a callback")


def rfc3339(moment: datetime) -> str:
    """UTC with a zone designator; naive datetimes are taken to be UTC already."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_body(
    callback_id: str, type_: str, location_id: str, data: Mapping[str, Any], created_at: datetime
) -> bytes:
    """The compact JSON envelope; built once so the signature covers exactly these bytes."""
    envelope = {
        "id": callback_id,
        "type": type_,
        "occurred_at": rfc3339(created_at),
        "location_id": location_id,
        "data": data,
    }
    text = json.dumps(
        envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    )
    return text.encode("utf-8")


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in delta-seconds; an HTTP-date or garbage counts as absent."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _one_shot_client() -> httpx.AsyncClient:
    # No pool to draw a stale connection from: the retry is sure to open a new one.
    return httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))


# Which callbacks a sender can take: every location's, or only those of installed HighLevel
# locations (no CRM_CALLBACK_URL: the others wait for it, as without any sender).
CallbackScope = Literal["all", "highlevel"]


class CallbackSender(Protocol):
    """What the deliverer sends callbacks with: this client, or one that routes per location
    (app/sync/highlevel/outbound.py)."""

    @property
    def scope(self) -> CallbackScope: ...

    async def send(
        self,
        callback_id: str,
        type_: str,
        location_id: str,
        data: Mapping[str, Any],
        created_at: datetime,
    ) -> None: ...


class CallbackClient:
    """Sends callbacks to one CRM endpoint; the `httpx.AsyncClient` is shared and injected."""

    scope: CallbackScope = "all"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        url: str,
        secret: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        fresh_client: Callable[[], httpx.AsyncClient] = _one_shot_client,
    ) -> None:
        if not secret:
            raise ValueError("a signing secret is required to send callbacks")
        self._http = http
        self._url = url
        self._secret = secret
        self._timeout = httpx.Timeout(timeout_s)
        self._clock = clock
        self._fresh_client = fresh_client

    @property
    def url(self) -> str:
        return self._url

    async def send(
        self,
        callback_id: str,
        type_: str,
        location_id: str,
        data: Mapping[str, Any],
        created_at: datetime,
    ) -> None:
        """Deliver once; returns on 2xx, raises a typed error otherwise."""
        body = encode_body(callback_id, type_, location_id, data, created_at)
        try:
            try:
                await self._post(self._http, body)
            except STALE_CONNECTION_ERRORS as exc:
                log.info("crm.callback.stale_connection", callback_id=callback_id, error=repr(exc))
                async with self._fresh_client() as fresh:
                    await self._post(fresh, body)
        except httpx.TimeoutException as exc:
            raise CallbackUnavailableError(f"CRM did not answer in time ({exc!r})") from exc
        except httpx.HTTPError as exc:
            raise CallbackUnavailableError(f"CRM unreachable ({exc!r})") from exc

    async def _post(self, http: httpx.AsyncClient, body: bytes) -> None:
        # Signed per attempt: a retry carries a fresh timestamp.
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body, int(self._clock())),
        }
        async with http.stream(
            "POST", self._url, content=body, headers=headers, timeout=self._timeout
        ) as response:
            if response.is_success:
                # Delivered once the status is in; the body only matters to reuse the socket.
                with contextlib.suppress(httpx.HTTPError):
                    await _read_capped(response)
                return
            head = await _read_capped(response)
        raise _error_for(response, _excerpt(head))


async def _read_capped(response: httpx.Response) -> bytes:
    """The answer's first MAX_READ_BYTES.

    A normal answer is read whole, so its connection goes back to the pool; a huge one is cut
    off (and its connection dropped) instead of being buffered.
    """
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= MAX_READ_BYTES:
            break
    return collected


def _excerpt(body: bytes) -> str:
    text = body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())


def _error_for(response: httpx.Response, excerpt: str) -> Exception:
    status = response.status_code
    if status in PERMANENT_STATUSES:
        return CallbackRejectedError(status, excerpt)
    # Everything else, redirects included (a URL someone must fix; keep the callback meanwhile).
    return CallbackUnavailableError(
        _with_excerpt(f"CRM answered HTTP {status}", excerpt),
        status=status,
        retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
    )


def callback_client_from_settings(
    http: httpx.AsyncClient, settings: Settings
) -> CallbackClient | None:
    """The client for CRM_CALLBACK_URL, or None when no URL is configured (callbacks wait)."""
    if not settings.crm.callback_url:
        return None
    return CallbackClient(
        http,
        url=settings.crm.callback_url,
        secret=signing_secrets(settings)[0],
        timeout_s=settings.crm.callback_timeout_s,
    )
