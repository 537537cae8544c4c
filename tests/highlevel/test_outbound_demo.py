"""`qbo-sync demo --crm highlevel` from a clean environment: the whole HighLevel story runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_highlevel_demo_runs_end_to_end_from_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--crm", "highlevel"],
        cwd=tmp_path,  # no .env, no data directory: nothing configured
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "app installed on sub-account demoHighLevel1" in out
    assert "from the card, both toggles on: realm" in out
    assert "3 QuickBooks customers -> HighLevel contacts" in out
    assert "(DocNumber HL-1001, total 91.00, balance 0, 1 Payment)" in out
    assert "phone edited in QuickBooks -> contact" in out
    assert "tag 'qbo-first-invoice-paid' on Jo Rivera" in out
    assert "Demo finished in" in out
    assert list(tmp_path.iterdir()) == [], "the demo left files behind"
