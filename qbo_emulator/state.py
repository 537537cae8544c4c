"""The emulator's whole state, one instance per app (never module globals)."""

from __future__ import annotations

import itertools
import random
import secrets

from qbo_emulator.clock import Clock
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.store import Company
from qbo_emulator.tokens import TokenStore
from qbo_emulator.webhooks import WebhookDispatcher


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self.companies: dict[str, Company] = {}
        self.latest_realm: str | None = None
        self.tokens = TokenStore()
        self.webhooks = WebhookDispatcher(config, self.clock, self.rng)
        self._tids = itertools.count(1)
        self._tid_prefix = secrets.token_hex(4)

    def company(self, realm_id: str) -> Company | None:
        return self.companies.get(realm_id)

    def new_tid(self) -> str:
        # Intuit transaction ids look like "1-5a1b2c3d-0123456789abcdef"; only uniqueness matters.
        return f"1-{self._tid_prefix}-{next(self._tids):016x}"

    def new_realm_id(self) -> str:
        while True:
            realm = str(9130350000000000 + self.rng.randrange(10**15))
            if realm not in self.companies:
                return realm

    def reset(self) -> None:
        self.companies.clear()
        self.latest_realm = None
        self.tokens = TokenStore()
        self.clock.offset_s = 0.0
        self.webhooks.clear()
