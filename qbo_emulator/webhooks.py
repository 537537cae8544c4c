"""Outbound webhook notifications: batched per realm, signed, retried, optionally dropped."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from qbo_emulator.clock import Clock
from qbo_emulator.config import EmulatorConfig

log = structlog.get_logger("qbo_emulator.webhooks")

WEBHOOK_ENTITIES = frozenset(
    {"Account", "Customer", "Employee", "Invoice", "Item", "Payment", "PaymentMethod"}
    | {"Preferences", "SalesReceipt", "Vendor"}
)
PAST_TENSE = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
    "Emailed": "emailed",
}
MAX_EVENTS_PER_DELIVERY = 100
DELIVERY_LOG_SIZE = 1000


@dataclass(frozen=True)
class Event:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    at: float
    event_id: str
    data: dict[str, Any] | None = None


def sign(verifier_token: str, body: bytes) -> str:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def legacy_body(events: list[Event]) -> bytes:
    entities = []
    for e in events:
        entry: dict[str, Any] = {"name": e.entity, "id": e.entity_id, "operation": e.operation}
        entry["lastUpdated"] = _utc(e.at)
        if e.data and "deletedid" in e.data:
            entry["deletedId"] = e.data["deletedid"]
        entities.append(entry)
    note = {"realmId": events[0].realm_id, "dataChangeEvent": {"entities": entities}}
    return json.dumps({"eventNotifications": [note]}, separators=(",", ":")).encode()


def cloudevents_body(events: list[Event], source: str) -> bytes:
    out = []
    for e in events:
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": e.event_id,
            "source": source,
            "type": f"qbo.{e.entity.lower()}.{PAST_TENSE.get(e.operation, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": _utc(e.at),
            "intuitentityid": e.entity_id,
            "intuitaccountid": e.realm_id,
            "data": e.data or {},
        }
        out.append(event)
    return json.dumps(out, separators=(",", ":")).encode()


class WebhookDispatcher:
    def __init__(self, config: EmulatorConfig, clock: Clock, rng: random.Random) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng
        self.client: httpx.AsyncClient | None = None
        self.muted = False
        self.pending: dict[str, list[Event]] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.hurry = asyncio.Event()
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=DELIVERY_LOG_SIZE)
        self.stats: collections.Counter[str] = collections.Counter()
        self.source = "intuit." + base64.b64encode(uuid.uuid4().bytes * 2).decode()

    def clear(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        self.pending.clear()
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

    def notify(self, event: Event) -> None:
        """Queue a change; never blocks the API response that caused it."""
        if self.muted or not self.config.webhook_url or event.entity not in WEBHOOK_ENTITIES:
            return
        self.stats["events"] += 1
        batch = self.pending.setdefault(event.realm_id, [])
        batch.append(event)
        if len(batch) == 1:
            self._spawn(self._send_later(event.realm_id))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_later(self, realm_id: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hurry.wait(), self.config.webhook_batch_window_s)
        events = self.pending.pop(realm_id, [])
        for start in range(0, len(events), MAX_EVENTS_PER_DELIVERY):
            await self._deliver(realm_id, events[start : start + MAX_EVENTS_PER_DELIVERY])

    async def _deliver(self, realm_id: str, events: list[Event]) -> None:
        if self.rng.random() < self.config.webhook_drop_rate:
            self.stats["dropped"] += 1
            self._record(realm_id, events, 0, None, "dropped")
            return
        # Intuit queues a realm's deliveries: later events wait until earlier ones are acknowledged.
        async with self.locks.setdefault(realm_id, asyncio.Lock()):
            body = self._body(events)
            schedule = self.config.webhook_retry_schedule_s
            for attempt in range(len(schedule) + 1):
                status, error = await self._post(body)
                self._record(realm_id, events, attempt + 1, status, error)
                if error is None:
                    self.stats["delivered"] += 1
                    return
                if attempt < len(schedule):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.hurry.wait(), schedule[attempt])
            self.stats["failed"] += 1

    def _body(self, events: list[Event]) -> bytes:
        if self.config.webhook_format == "cloudevents":
            return cloudevents_body(events, self.source)
        return legacy_body(events)

    async def _post(self, body: bytes) -> tuple[int | None, str | None]:
        await self.start()
        assert self.client is not None
        url = self.config.webhook_url
        if not url:
            return None, "no webhook url"
        cloud = self.config.webhook_format == "cloudevents"
        headers = {
            "intuit-signature": sign(self.config.verifier_token, body),
            "intuit-created-time": _utc(self.clock.now()),
            "intuit-t-id": str(uuid.uuid4()),
            "intuit-notification-schema-version": "0.1",
            "content-type": ("application/cloudevents+json" if cloud else "application/json")
            + "; charset=utf-8",
            "user-agent": "intuit_notification_server/0.1",
        }
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        # Intuit asks for 200; any 2xx is taken as an acknowledgement here.
        return response.status_code, None if 200 <= response.status_code < 300 else "status"

    def _record(
        self,
        realm_id: str,
        events: list[Event],
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        entry = {
            "realm_id": realm_id,
            "events": len(events),
            "event_ids": [e.event_id for e in events],
            "attempt": attempt,
            "status": status,
            "ok": error is None,
            "error": error,
            "at": _utc(self.clock.now()),
        }
        self.log.append(entry)
        log.debug("qbo_emulator.webhook.attempt", **entry)

    async def flush(self) -> dict[str, int]:
        """Send everything queued now and wait for deliveries, skipping retry waits."""
        self.hurry.set()
        try:
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
        finally:
            self.hurry.clear()
        return dict(self.stats)

    def new_event(
        self,
        realm_id: str,
        entity: str,
        entity_id: str,
        operation: str,
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> Event:
        """`at`: the change's own time, the one its MetaData.LastUpdatedTime shows (legacy
        `lastUpdated` and CloudEvents `time` name when the entity changed: qbo-api.md §7.3/§7.4,
        "time = legacy lastUpdated"; that it equals MetaData.LastUpdatedTime to the second is
        UNKNOWN, see qbo_emulator/README.md)."""
        event_id = f"{uuid.uuid4()}-{entity}-{entity_id}"
        when = self.clock.now() if at is None else at
        return Event(realm_id, entity, entity_id, operation, when, event_id, data)
