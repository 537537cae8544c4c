"""`qbo-sync demo` from a clean environment: everything starts, syncs, and is cleaned up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end_from_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        cwd=tmp_path,  # no .env, no data directory: nothing configured
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.count("connected    realm") == 2
    assert out.count("imported     3 contacts") == 2
    assert "invoice      synced: CRM 29.97 USD = QBO Invoice" in out
    assert "total 120.00  to the cent" in out
    assert "sales_receipt synced: CRM 48.00 GBP" in out
    assert "MISMATCH" not in out
    assert "sync.result          14" in out
    refunds = [line for line in out.splitlines() if line.startswith("  refunded ")]
    assert len(refunds) == 2, out
    assert refunds[0].endswith("total 4.00  ok"), refunds
    assert refunds[1].endswith("total 12.00  ok"), refunds
    assert out.count("paid         in two parts; QBO invoice balance 0  ok") == 2
    assert out.count("total 0  ok") == 2
    assert out.count("phone edited in QuickBooks -> CRM contact") == 2
    assert out.count("review       review_request.send for jo@") == 2
    assert "/v1/connections/demo-gb/sync-log" in out
    assert "Demo finished in" in out
    assert list(tmp_path.iterdir()) == [], "the demo left files behind"
