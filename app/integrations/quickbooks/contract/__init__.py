"""`qbo-sync verify-qbo`: one contract suite run against the emulator or a real QBO sandbox.

Each check sends raw JSON (raw.py) to a company (targets.py), compares what QBO answers with what
a source says it answers (model.py: name, source, expected, observed, verdict) and takes away what
it created (cleanup.py). A check whose real behaviour nobody has documented expects the emulator's
modelled behaviour and is marked unknown: a sandbox run settles it.
"""

from __future__ import annotations

from app.integrations.quickbooks.contract import (
    checks_api,
    checks_books,
    checks_money,
    checks_names,
    checks_refunds,
    checks_schema,
    checks_tax,
)
from app.integrations.quickbooks.contract.model import Check, CheckResult, Report, Verdict
from app.integrations.quickbooks.contract.runner import new_run_id, run_checks
from app.integrations.quickbooks.contract.targets import EmulatorTarget, SandboxTarget

ALL_CHECKS: tuple[Check, ...] = (
    *checks_money.CHECKS[:4],
    *checks_api.CHECKS[:2],
    *checks_names.CHECKS[:2],
    checks_api.CHECKS[2],
    *checks_api.CHECKS[3:5],
    checks_names.CHECKS[2],
    checks_money.CHECKS[4],
    checks_names.CHECKS[3],
    *checks_api.CHECKS[5:],
    *checks_tax.CHECKS,
    *checks_schema.CHECKS,
    *checks_refunds.CHECKS,
    *checks_books.CHECKS,
    *checks_names.CHECKS[4:],
)

__all__ = [
    "ALL_CHECKS",
    "Check",
    "CheckResult",
    "EmulatorTarget",
    "Report",
    "SandboxTarget",
    "Verdict",
    "new_run_id",
    "run_checks",
]
