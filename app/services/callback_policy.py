"""When a failed callback is tried again and when it is given up (docs/design.md §2.4): pure rules.

The delivery itself is app/sync/callback_delivery.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import Settings
from app.errors import PermanentError
from app.integrations.crm.callbacks import DEFAULT_TIMEOUT_S
from app.models import CrmCallback

GIVE_UP_AFTER = timedelta(days=3)
DEFAULT_LEASE = timedelta(seconds=120)
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 3600.0
_MAX_EXPONENT = 20  # 5 s * 2**20 is far past the cap; keeps the float finite.
_system_random = random.SystemRandom()


def backoff_delay(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after `attempts` failed attempts (1 for the first failure).

    Capped exponential backoff with jitter between half the base and the ceiling, so callbacks
    that failed together (a CRM outage) do not all return at once. A Retry-After is honoured up
    to the cap, so a CRM asking for days cannot park a callback beyond its 3-day window.
    """
    exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
    ceiling = min(MAX_RETRY_S, FIRST_RETRY_S * 2**exponent)
    jittered = (rng or _system_random).uniform(FIRST_RETRY_S / 2, ceiling)
    if retry_after is None:
        return jittered
    return max(jittered, min(retry_after, MAX_RETRY_S))


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long a callback is retried and how long a deliverer's claim lasts."""

    give_up_after: timedelta = GIVE_UP_AFTER
    lease: timedelta = DEFAULT_LEASE
    send_timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        crm = settings.crm
        return cls(
            give_up_after=timedelta(seconds=crm.callback_give_up_after_s),
            lease=timedelta(seconds=crm.callback_lease_s),
            send_timeout_s=crm.callback_timeout_s,
        )

    @property
    def send_budget_s(self) -> float:
        """Seconds a run may keep starting sends: one started last (with its immediate retry on
        a fresh connection) still ends inside the lease."""
        lease_s = self.lease.total_seconds()
        return max(lease_s / 2, lease_s - 2 * self.send_timeout_s - 5.0)


DEFAULT_POLICY = DeliveryPolicy()


def give_up_reason(
    callback: CrmCallback, error: Exception, now: datetime, give_up_after: timedelta
) -> str | None:
    """Why this failed attempt is the last one, or None when it is worth retrying."""
    if isinstance(error, PermanentError):
        return describe(error)
    window_start = callback.resent_at or callback.created_at
    if now - window_start >= give_up_after:
        return f"gave up after {_duration(give_up_after)}: {describe(error)}"
    return None


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def describe(error: Exception) -> str:
    return str(error) or type(error).__name__
