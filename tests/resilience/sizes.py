"""Sizes of the resilience tests: small for CI, the issue's full figures with QBS_RESILIENCE_FULL=1.

Every resilience test reads its sizes here, so one switch scales the whole directory.
"""

from __future__ import annotations

import os

FULL = os.environ.get("QBS_RESILIENCE_FULL") == "1"

# CRM events posted by one run, spread over this many locations (each its own QBO company).
EVENTS = 1000 if FULL else 120
REALMS = 50 if FULL else 5
# Events of the workload fed to each of the two companies compared by test_duplicates.
DUPLICATE_EVENTS = 400 if FULL else 80

# Deadlines only keep a broken run from hanging; nothing asserts how long a run took.
SETTLE_S = 600.0 if FULL else 120.0
# How long faults may stay armed before they are switched off so retries can finish.
FAULT_WINDOW_S = 60.0 if FULL else 15.0
TEST_TIMEOUT_S = 1200 if FULL else 240

# QBO's throttle answer carries no Retry-After, so the service waits its documented 60 s before
# retrying a throttled job. CI shortens that wait (None: keep the service's own default).
THROTTLE_WAIT_S: float | None = None if FULL else 1.0
