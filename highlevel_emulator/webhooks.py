"""Outbound webhooks: one POST per event, signed, optionally dropped, retried only on 429.

- Body: the documented event payload plus `timestamp` and `webhookId` (docs/oauth/
  WebhookAuthentication.md: "The payload containing the timestamp, webhook ID, and data").
- Headers: `X-GHL-Signature` (Ed25519) and, when `legacy_signature`, `X-WH-Signature` (RSA-SHA256),
  both base64 over the exact body bytes (keys.py names the SDK code).
- Retries: only a 429 answer is retried, up to six times ten minutes apart; any other status is
  final (help.gohighlevel.com "Automated Webhook Retries"; GoHighLevel/highlevel-api-docs#257). The
  interval is `webhook_retry_interval_s` (scaled down).
- A dropped webhook (drop rate) is never sent, as HighLevel loses an event on a non-429 failure.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import structlog

from highlevel_emulator.config import HighLevelEmulatorConfig
from highlevel_emulator.keys import SigningKeys
from highlevel_emulator.money import compact

log = structlog.get_logger("highlevel_emulator.webhooks")

DELIVERY_LOG_SIZE = 2000


class WebhookDispatcher:
    def __init__(
        self,
        config: HighLevelEmulatorConfig,
        keys: SigningKeys,
        rng: random.Random,
        iso_now: Callable[[], str],
    ) -> None:
        self.config = config
        self.keys = keys
        self.rng = rng
        self.iso_now = iso_now
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.locks: dict[str, asyncio.Lock] = {}
        self.hurry = asyncio.Event()
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=DELIVERY_LOG_SIZE)
        self.stats: collections.Counter[str] = collections.Counter()

    def clear(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        self.log.clear()
        self.stats.clear()

    async def start(self) -> None:
        if self.client is None:
            self.client = httpx.AsyncClient(
                transport=self.config.webhook_transport, timeout=self.config.webhook_timeout_s
            )

    async def aclose(self) -> None:
        self.clear()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def emit(self, location_id: str, event_type: str, payload: dict[str, Any]) -> str:
        """Queue one event; returns its webhookId. Never blocks the call that caused it."""
        webhook_id = str(uuid.uuid4())
        body = {**payload, "timestamp": self.iso_now(), "webhookId": webhook_id}
        if not self.config.webhook_url:
            return webhook_id
        self.stats["queued"] += 1
        if self.rng.random() < self.config.webhook_drop_rate:
            self.stats["dropped"] += 1
            self._record(body, event_type, location_id, 0, None, "dropped")
            return webhook_id
        self._spawn(self._deliver(location_id, event_type, body))
        return webhook_id

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, location_id: str, event_type: str, body: dict[str, Any]) -> None:
        # One location's events go out in the order they happened (ordering across retries is
        # UNKNOWN for HighLevel; README).
        async with self.locks.setdefault(location_id, asyncio.Lock()):
            raw = compact(body)
            for attempt in range(1, self.config.webhook_max_retries + 2):
                status, error = await self._post(raw)
                self._record(body, event_type, location_id, attempt, status, error)
                if error is None:
                    self.stats["delivered"] += 1
                    return
                if status != 429 or attempt > self.config.webhook_max_retries:
                    self.stats["failed"] += 1
                    return
                self.stats["retried"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hurry.wait(), self.config.webhook_retry_interval_s)

    def headers(self, raw: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-GHL-Signature": self.keys.sign_ed25519(raw),
        }
        if self.config.legacy_signature:
            headers["X-WH-Signature"] = self.keys.sign_rsa(raw)
        return headers

    async def _post(self, raw: bytes) -> tuple[int | None, str | None]:
        await self.start()
        assert self.client is not None
        url = self.config.webhook_url
        if not url:
            return None, "no webhook url"
        try:
            response = await self.client.post(url, content=raw, headers=self.headers(raw))
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        ok = 200 <= response.status_code < 300
        return response.status_code, None if ok else f"status {response.status_code}"

    def _record(
        self,
        body: dict[str, Any],
        event_type: str,
        location_id: str,
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        entry = {
            "webhook_id": body["webhookId"],
            "type": event_type,
            "location_id": location_id,
            "attempt": attempt,
            "status": status,
            "ok": error is None,
            "dropped": error == "dropped",
            "error": error,
            "at": self.iso_now(),
            "body": json.loads(compact(body)),
        }
        self.log.append(entry)
        log.debug(
            "highlevel_emulator.webhook.attempt",
            **{k: v for k, v in entry.items() if k != "body"},
        )

    async def flush(self) -> dict[str, int]:
        """Wait for every queued delivery, skipping retry waits."""
        self.hurry.set()
        try:
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
        finally:
            self.hurry.clear()
        keys = ("queued", "delivered", "dropped", "failed", "retried")
        return {k: self.stats[k] for k in keys}
