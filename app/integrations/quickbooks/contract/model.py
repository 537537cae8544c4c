"""What a contract check is, what it found, and the report they make together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.integrations.quickbooks.contract.session import CheckSession

UNKNOWN_NOTE = "unknown: this check settles it"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    DIFFERS = "differs"
    ERROR = "error"
    # Sandbox only: the connected company cannot run the check (another country, a preference).
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Needs:
    """The company a check needs. The emulator makes one to measure; a sandbox must match.

    `settings` are emulator company settings (qbo_emulator/store.py COMPANY_SETTINGS); only
    `custom_txn_numbers` can be read from a real company (Preferences.SalesFormsPrefs).
    """

    # None: any country (the emulator makes a US company).
    country: str | None = None
    settings: Mapping[str, bool | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    expected: str
    observed: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)


CheckBody = Callable[["CheckSession"], Awaitable[Outcome]]


@dataclass(frozen=True)
class Check:
    name: str
    # What the expectation rests on: a real sample file, an Intuit page, an SDK issue; for an
    # unknown, the emulator's modelled rule.
    source: str
    sends: str
    # The expectation in words (shown when the check errs or is skipped before measuring).
    expects: str
    run: CheckBody
    needs: Needs = field(default_factory=Needs)
    unknown: bool = False
    # Throttles the company for a while: run after every other check on a shared company.
    last: bool = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    source: str
    sends: str
    expected: str
    observed: str
    verdict: Verdict
    unknown: bool
    details: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "sends": self.sends,
            "expected": self.expected,
            "observed": self.observed,
            "verdict": self.verdict.value,
            "unknown": self.unknown,
            "details": self.details,
        }


@dataclass
class Report:
    target: str  # "emulator" | "sandbox"
    realm_id: str | None
    started_at: str
    run_id: str
    checks: list[CheckResult] = field(default_factory=list)
    cleanup: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = {verdict.value: 0 for verdict in Verdict}
        for check in self.checks:
            counts[check.verdict.value] += 1
        return {"total": len(self.checks), **counts}

    @property
    def all_passed(self) -> bool:
        """Every check ran and passed (a skipped check is not a pass: exit status 1)."""
        return bool(self.checks) and all(c.verdict is Verdict.PASS for c in self.checks)

    def public(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "realm_id": self.realm_id,
            "started_at": self.started_at,
            "run_id": self.run_id,
            "checks": [check.public() for check in self.checks],
            "cleanup": self.cleanup,
            "summary": self.summary(),
        }


def expected_text(check: Check, expected: str) -> str:
    return f"{expected} [{UNKNOWN_NOTE}]" if check.unknown else expected
