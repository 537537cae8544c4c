"""Retries with capped exponential backoff and full jitter (procrastinate's own has neither)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from app.errors import PermanentError


@dataclass(frozen=True)
class CappedJitterBackoff(BaseRetryStrategy):
    max_attempts: int = 12
    base_s: float = 2.0
    cap_s: float = 600.0

    def delay_for(self, attempts: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * (2**attempts))
        # Full jitter spreads retries of many jobs that failed together (a QBO outage).
        return (rng or random).uniform(self.base_s / 2, ceiling)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, PermanentError) or job.attempts >= self.max_attempts:
            return None
        retry_after = getattr(exception, "retry_after_s", None)
        delay = max(float(retry_after or 0), self.delay_for(job.attempts))
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=delay))
