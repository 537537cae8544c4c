"""Everything the stand-in remembers, per app instance."""

from __future__ import annotations

import random
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from highlevel_emulator.config import HighLevelEmulatorConfig
from highlevel_emulator.keys import SigningKeys
from highlevel_emulator.limits import RateLimiter
from highlevel_emulator.webhooks import WebhookDispatcher

_ALNUM = string.ascii_letters + string.digits


@dataclass
class Location:
    location_id: str
    company_id: str
    name: str
    live_mode: bool
    currency: str
    installed: bool = False
    user_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "company_id": self.company_id,
            "name": self.name,
            "live_mode": self.live_mode,
            "currency": self.currency,
            "installed": self.installed,
        }


@dataclass
class Grant:
    """What an authorization code or a token stands for."""

    location_id: str
    company_id: str
    user_id: str
    scope: str
    expires_at: float


@dataclass
class Store:
    locations: dict[str, Location] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    contacts: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    invoices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    orders: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    transactions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    invoice_numbers: dict[str, int] = field(default_factory=dict)


class HighLevelEmulator:
    def __init__(self, config: HighLevelEmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - ids and drop rate, not secrets
        self.keys = SigningKeys()
        self.store = Store()
        self.limiter = RateLimiter(config, self.now)
        self.webhooks = WebhookDispatcher(config, self.keys, self.rng, self.iso_now)

    def now(self) -> float:
        return time.time()

    def iso_now(self) -> str:
        stamp = datetime.fromtimestamp(self.now(), UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")

    def reset(self) -> None:
        self.store = Store()
        self.limiter.clear()
        self.webhooks.clear()

    # HighLevel ids: locations, contacts, users look like "ve9EPM428h8vShlRW1KT" (20 letters and
    # digits); invoices, orders, transactions like "6578278e879ad2646715ba9c" (24 hex):
    # docs/webhook events/ContactCreate.md, InvoicePaid.md, OrderStatusUpdate.md examples.
    def short_id(self) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(20))

    def object_id(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(24))

    @staticmethod
    def token() -> str:
        return secrets.token_hex(16)

    def location(self, location_id: str) -> Location | None:
        return self.store.locations.get(location_id)

    def add_location(self, location: Location) -> None:
        self.store.locations[location.location_id] = location
        for table in (self.store.contacts, self.store.invoices, self.store.orders):
            table.setdefault(location.location_id, {})
        self.store.transactions.setdefault(location.location_id, {})
