from __future__ import annotations

import random
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from app.errors import PermanentError, TransientError
from app.jobs.retry import CappedJitterBackoff


def job(attempts: int) -> Any:
    return SimpleNamespace(attempts=attempts)


def test_delay_grows_exponentially_but_never_passes_the_cap() -> None:
    strategy = CappedJitterBackoff(base_s=2, cap_s=600)
    rng = random.Random(7)
    for attempts in range(30):
        delay = strategy.delay_for(attempts, rng)
        assert 1 <= delay <= min(600, 2 * 2**attempts)


def test_jitter_spreads_retries_of_the_same_attempt() -> None:
    strategy = CappedJitterBackoff(base_s=2, cap_s=600)
    rng = random.Random(1)
    delays = {round(strategy.delay_for(8, rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_permanent_errors_and_exhausted_attempts_are_not_retried() -> None:
    strategy = CappedJitterBackoff(max_attempts=3)
    assert strategy.get_retry_decision(exception=PermanentError("no"), job=job(0)) is None
    assert strategy.get_retry_decision(exception=RuntimeError("x"), job=job(3)) is None
    assert strategy.get_retry_decision(exception=RuntimeError("x"), job=job(2)) is not None


def test_retry_waits_at_least_what_the_error_asks() -> None:
    strategy = CappedJitterBackoff(base_s=1, cap_s=5)
    decision = strategy.get_retry_decision(
        exception=TransientError("429", retry_after_s=60), job=job(0)
    )
    assert decision is not None
    assert decision.retry_at is not None
    assert (decision.retry_at - datetime.now(UTC)).total_seconds() > 59
