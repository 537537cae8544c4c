"""Emulator settings: one dataclass, mutable at runtime through the control API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any, Literal

import httpx

WebhookFormat = Literal["legacy", "cloudevents"]
ThrottleFormat = Literal["json", "xml"]

# Intuit retries at 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, ...; the emulator keeps the shape but
# divides by 100 so a test can watch a full retry cycle in a few seconds.
DEFAULT_RETRY_SCHEDULE_S: tuple[float, ...] = (0.1, 0.2, 0.3, 3.0, 12.0)


@dataclass
class EmulatorConfig:
    base_url: str = "http://127.0.0.1:8300"
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"  # noqa: S105 - well-known emulator default
    verifier_token: str = "emulator-verifier-token"  # noqa: S105 - well-known emulator default
    redirect_uris: list[str] | None = None
    webhook_url: str | None = None
    webhook_format: WebhookFormat = "legacy"
    webhook_batch_window_s: float = 0.2
    webhook_drop_rate: float = 0.0
    webhook_retry_schedule_s: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE_S
    webhook_timeout_s: float = 3.0
    latency_ms: int = 0
    auto_consent: bool = False
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 8726400
    refresh_rotation: bool = True
    # Intuit "API call limits and throttles" (see qbo_emulator/limits.py for the page and the
    # unknowns): per realm a minute; per realm and app a second, in flight, batch a minute.
    rate_limit_per_minute: int = 500
    rate_limit_per_second: int = 10
    max_in_flight: int = 10
    batch_per_minute_per_app: int = 40
    batch_per_minute_per_realm: int = 120
    throttle_format: ThrottleFormat = "json"
    request_log_size: int = 10_000
    requestid_cache_size: int = 50_000
    seed: int | None = None
    # Lets in-process tests receive webhooks without a socket (e.g. httpx.MockTransport).
    webhook_transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-friendly values (the transport is not one)."""
        data = asdict(self)
        data.pop("webhook_transport", None)
        data["webhook_retry_schedule_s"] = list(self.webhook_retry_schedule_s)
        return data

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply known keys; return the unknown ones so the caller can reject them."""
        known = {f.name for f in fields(self)} - {"webhook_transport", "base_url"}
        unknown = [k for k in changes if k not in known]
        for key, value in changes.items():
            if key in known:
                if key == "webhook_retry_schedule_s":
                    value = tuple(float(v) for v in value)
                elif isinstance(value, Decimal):
                    # The control API parses JSON fractions as Decimal (jsonutil); asyncio's
                    # timeouts add them to the loop's float clock, a TypeError from Python 3.12.
                    value = float(value)
                setattr(self, key, value)
        return unknown
