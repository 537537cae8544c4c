"""API rate limits per app and resource, with HighLevel's `X-RateLimit-*` headers.

docs/oauth/Authorization.md ("What are current rate limits for API 2.0?"): a burst limit of 100
requests per 10 seconds and a daily limit of 200,000 requests, each "for each Marketplace app
(i.e., client) per resource (i.e., Location or Company)", reported in the headers
X-RateLimit-Limit-Daily, X-RateLimit-Daily-Remaining, X-RateLimit-Interval-Milliseconds,
X-RateLimit-Max and X-RateLimit-Remaining. UNKNOWN (README): whether the burst window is fixed or
sliding, when the day starts, and the 429 body; the stand-in uses a fixed window from its first
request, the UTC day, and the common error DTO shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from highlevel_emulator.config import HighLevelEmulatorConfig


@dataclass
class _Window:
    started: float
    used: int


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, config: HighLevelEmulatorConfig, now: Callable[[], float]) -> None:
        self.config = config
        self.now = now
        self.bursts: dict[str, _Window] = {}
        self.days: dict[str, _Window] = {}

    def clear(self) -> None:
        self.bursts.clear()
        self.days.clear()

    def take(self, resource: str) -> Verdict:
        """Count one request for (this app, resource); refuse when either limit is spent."""
        key = f"{self.config.client_id}:{resource}"
        now = self.now()
        interval = self.config.rate_limit_interval_ms / 1000
        burst = self.bursts.get(key)
        if burst is None or now - burst.started >= interval:
            burst = self.bursts[key] = _Window(now, 0)
        day_start = now - now % 86400
        day = self.days.get(key)
        if day is None or day.started != day_start:
            day = self.days[key] = _Window(day_start, 0)
        allowed = (
            burst.used < self.config.rate_limit_burst and day.used < self.config.rate_limit_daily
        )
        if allowed:
            burst.used += 1
            day.used += 1
        headers = {
            "X-RateLimit-Limit-Daily": str(self.config.rate_limit_daily),
            "X-RateLimit-Daily-Remaining": str(max(0, self.config.rate_limit_daily - day.used)),
            "X-RateLimit-Interval-Milliseconds": str(self.config.rate_limit_interval_ms),
            "X-RateLimit-Max": str(self.config.rate_limit_burst),
            "X-RateLimit-Remaining": str(max(0, self.config.rate_limit_burst - burst.used)),
        }
        return Verdict(allowed, headers)
