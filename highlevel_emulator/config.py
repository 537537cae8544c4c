"""Stand-in settings: one dataclass, mutable at runtime through `PATCH /_emulator/config`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx

# Types a PATCH may set, so a typo or a wrong type is a 400 instead of a silent no-op.
_BOOL = bool
_NUMBER = (int, float)


@dataclass
class HighLevelEmulatorConfig:
    base_url: str = "http://127.0.0.1:8400"
    client_id: str = "emulator-app-id-emulatorclient"
    client_secret: str = "emulator-client-secret"  # noqa: S105 - well-known stand-in default
    # HighLevel's SDK derives the app id from the client id (`clientId.split('-')[0]`,
    # highlevel-api-sdk lib/webhook/webhook-manager.ts); the default keeps that relation.
    app_id: str = "emulator"
    redirect_uris: list[str] | None = None
    auto_consent: bool = False
    # "The access tokens are valid for a day" (docs/oauth/Authorization.md); apps/oauth.json's
    # example answer says expires_in 86399.
    access_token_ttl_s: int = 86399
    # "refresh tokens are valid for a year unless they are used" (docs/oauth/Authorization.md).
    refresh_token_ttl_s: int = 365 * 86400
    refresh_rotation: bool = True
    require_version_header: bool = True
    webhook_url: str | None = None
    webhook_drop_rate: float = 0.0
    legacy_signature: bool = True
    live_mode: bool = True
    # A change an app makes through the API fires the same webhook a change in HighLevel's UI
    # does (UNKNOWN for HighLevel, README); off lets a test isolate the control API's events.
    api_writes_fire_webhooks: bool = True
    # HighLevel retries a 429 answer six times, ten minutes apart plus jitter ("Automated Webhook
    # Retries", help.gohighlevel.com article 155000007071); scaled down so a test sees the cycle.
    webhook_retry_interval_s: float = 0.1
    webhook_max_retries: int = 6
    webhook_timeout_s: float = 10.0
    # docs/oauth/Authorization.md "What are current rate limits for API 2.0?": 100 requests per
    # 10 seconds and 200,000 per day, per app and per resource (location or company).
    rate_limit_burst: int = 100
    rate_limit_interval_ms: int = 10_000
    rate_limit_daily: int = 200_000
    seed: int | None = None
    # Lets in-process tests receive webhooks without a socket (e.g. httpx.MockTransport).
    webhook_transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("webhook_transport", None)
        return data

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply known keys of the right type; return the rejected keys (unknown or mistyped)."""
        settable = {f.name for f in fields(self)} - {"webhook_transport", "base_url"}
        rejected: list[str] = []
        for key, value in changes.items():
            if key not in settable:
                rejected.append(key)
                continue
            if not _fits(getattr(self, key), value, key):
                rejected.append(key)
        if rejected:
            return rejected
        for key, value in changes.items():
            setattr(self, key, value)
        return []


def _fits(current: Any, value: Any, key: str) -> bool:
    if key == "webhook_url":
        return value is None or isinstance(value, str)
    if key == "seed":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if key == "redirect_uris":
        return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if isinstance(current, bool):
        return isinstance(value, _BOOL)
    if isinstance(current, int | float):
        return isinstance(value, _NUMBER) and not isinstance(value, bool)
    return isinstance(value, type(current))
