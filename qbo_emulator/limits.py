"""Per-realm throttling (requests per minute, requests in flight) and injected faults."""

from __future__ import annotations

import time

from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, FaultRule

FAULT_KINDS = ("429", "500", "503", "slow", "drop", "401", "drop_after_write", "500_after_write")
# Faults that let a write run and commit, then lose its answer; they wait for a write request.
AFTER_WRITE = frozenset({"drop_after_write", "500_after_write"})
WINDOW_S = 60.0


def over_limit(emu: Emulator, company: Company) -> bool:
    """True when this request must get a 429; otherwise it is counted against the window."""
    if company.in_flight >= emu.config.max_in_flight:
        return True
    now = time.monotonic()
    window = company.window
    while window and window[0] <= now - WINDOW_S:
        window.popleft()
    if len(window) >= emu.config.rate_limit_per_minute:
        return True
    window.append(now)
    return False


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
