"""Intuit's throttles (per realm and per realm+app) and the injected faults.

Source of every figure: Intuit, "API call limits and throttles"
(https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles): 500 requests
per minute per realm ID; 10 requests per second per realm ID and app; batch: 40 batch requests
per minute per realm ID and app, 120 per minute per realm ID; HTTP 429 when throttled. The 2016
blog "QuickBooks Online API throttling changes" adds the concurrency wording (no more than 10
concurrent requests per app and realm) and that the 500/minute includes batch requests.

UNKNOWN (settled by `qbo-sync verify-qbo` on a sandbox): whether Intuit's windows slide or are
fixed (we slide: the stricter reading for a caller) and whether a throttled request counts
against them (we do not count it).
"""

from __future__ import annotations

import collections
import time

from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, FaultRule

FAULT_KINDS = ("429", "500", "503", "slow", "drop", "401", "drop_after_write", "500_after_write")
# Faults that let a write run and commit, then lose its answer; they wait for a write request.
AFTER_WRITE = frozenset({"drop_after_write", "500_after_write"})
SECOND_S = 1.0
WINDOW_S = 60.0


def _recent(window: collections.deque[float], now: float, span_s: float) -> int:
    while window and window[0] <= now - span_s:
        window.popleft()
    return len(window)


def admit(emu: Emulator, company: Company, app: str, *, batch: bool) -> str | None:
    """None when the request may run: it is then counted and holds one in-flight slot (give it
    back with `release`). Otherwise the name of the throttle it hit; it is not counted."""
    config = emu.config
    now = time.monotonic()
    second = company.second_windows.setdefault(app, collections.deque())
    hit: str | None = None
    if company.in_flight_by_app[app] >= config.max_in_flight:
        hit = "concurrent"
    elif _recent(second, now, SECOND_S) >= config.rate_limit_per_second:
        hit = "per_second"
    elif _recent(company.window, now, WINDOW_S) >= config.rate_limit_per_minute:
        hit = "per_minute"
    elif batch:
        hit = _batch_throttle(emu, company, app, now)
    if hit is not None:
        company.throttled[hit] += 1
        return hit
    second.append(now)
    company.window.append(now)
    if batch:
        company.batch_window.append(now)
        company.batch_windows_by_app.setdefault(app, collections.deque()).append(now)
    company.in_flight_by_app[app] += 1
    company.in_flight += 1
    return None


def _batch_throttle(emu: Emulator, company: Company, app: str, now: float) -> str | None:
    per_app = company.batch_windows_by_app.setdefault(app, collections.deque())
    if _recent(per_app, now, WINDOW_S) >= emu.config.batch_per_minute_per_app:
        return "batch_per_app"
    if _recent(company.batch_window, now, WINDOW_S) >= emu.config.batch_per_minute_per_realm:
        return "batch_per_realm"
    return None


def release(company: Company, app: str) -> None:
    company.in_flight_by_app[app] -= 1
    company.in_flight -= 1


def give_back(company: Company, rule: FaultRule) -> None:
    """Return the use a request took from a counted rule (the request never ran)."""
    if rule.count is None:
        return
    rule.count += 1
    if rule not in company.faults:
        company.faults.insert(0, rule)


def next_fault(emu: Emulator, company: Company, *, write: bool) -> FaultRule | None:
    """The injected fault this request triggers, consuming one use of a counted rule.

    An after-write rule is skipped (and not used up) by reads: only a write can be committed
    and then have its answer lost.
    """
    for rule in list(company.faults):
        if rule.kind in AFTER_WRITE and not write:
            continue
        if rule.count is not None:
            if rule.count <= 0:
                company.faults.remove(rule)
                continue
            rule.count -= 1
            if rule.count <= 0:
                company.faults.remove(rule)
            return rule
        if rule.probability is not None and emu.rng.random() < rule.probability:
            return rule
    return None
