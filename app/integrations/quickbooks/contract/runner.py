"""Run every check against a target, each cleaned up after itself whatever it found."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.integrations.quickbooks.contract.cleanup import Tracker, clean_up, run_prefix
from app.integrations.quickbooks.contract.model import (
    Check,
    CheckResult,
    Outcome,
    Report,
    Verdict,
    expected_text,
)
from app.integrations.quickbooks.contract.session import CheckSession
from app.integrations.quickbooks.contract.targets import (
    SkipCheck,
    Target,
    emulator_only_settings,
)

CHECK_TIMEOUT_S = 180.0


def new_run_id() -> str:
    return secrets.token_hex(3)


async def run_checks(target: Target, checks: Sequence[Check], run_id: str) -> Report:
    report = Report(
        target=target.kind,
        realm_id=target.realm_id,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=run_id,
    )
    # Stable: the throttling checks go after the others, which keep their order.
    ordered = sorted(enumerate(checks), key=lambda pair: pair[1].last)
    for index, check in ordered:
        result, cleanup = await run_one(target, check, run_id, f"c{index + 1}")
        report.checks.append(result)
        report.cleanup.extend({"check": check.name, **entry} for entry in cleanup)
    return report


async def run_one(
    target: Target, check: Check, run_id: str, tag: str
) -> tuple[CheckResult, list[dict[str, Any]]]:
    try:
        qbo, facts = await target.company(check.needs)
    except SkipCheck as skip:
        return _result(check, Verdict.SKIPPED, check.expects, str(skip), {}), []
    except Exception as exc:
        return _result(check, Verdict.ERROR, check.expects, _error(exc), {}), []
    session = CheckSession(qbo, facts, Tracker(run_prefix(run_id)), tag, target.kind)
    details: dict[str, Any] = {"realm_id": facts.realm_id}
    if target.kind == "sandbox" and emulator_only_settings(check.needs):
        details["assumed_company_settings"] = dict(check.needs.settings)
    try:
        outcome = await asyncio.wait_for(check.run(session), CHECK_TIMEOUT_S)
    except SkipCheck as skip:
        # The company lacks what the check is about (found only by looking, e.g. a tax code).
        result = _result(check, Verdict.SKIPPED, check.expects, str(skip), details)
    except Exception as exc:
        result = _result(check, Verdict.ERROR, check.expects, _error(exc), details)
    else:
        verdict = Verdict.PASS if outcome.passed else Verdict.DIFFERS
        details |= outcome.details
        result = _result(check, verdict, outcome.expected, outcome.observed, details)
    # Cleanup runs even after a failed or timed-out check.
    return result, await clean_up(qbo, session.tracker)


def _error(exc: BaseException) -> str:
    text = str(exc) or "no message"
    return f"{type(exc).__name__}: {text}"


def _result(
    check: Check, verdict: Verdict, expected: str, observed: str, details: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        name=check.name,
        source=check.source,
        sends=check.sends,
        expected=expected_text(check, expected),
        observed=observed,
        verdict=verdict,
        unknown=check.unknown,
        details=details,
    )


def outcome(expected: str, observed: str, **details: Any) -> Outcome:
    """An outcome that passes when what was observed is what was expected."""
    return Outcome(expected, observed, expected == observed, details)
