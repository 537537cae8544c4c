"""`qbo-sync verify-qbo` against a fresh emulator: every check runs, and every check passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.integrations.quickbooks.contract import ALL_CHECKS

CHECK_FIELDS = {"name", "source", "sends", "expected", "observed", "verdict", "unknown", "details"}


@pytest.mark.slow
def test_every_check_passes_on_a_fresh_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "emulator")
    report_path = tmp_path / "report.json"

    status = main(["verify-qbo", "--json", str(report_path)])

    report = json.loads(report_path.read_text())
    assert report["target"] == "emulator"
    assert {"realm_id", "started_at", "run_id", "checks", "summary", "cleanup"} <= set(report)
    names = [check["name"] for check in report["checks"]]
    assert sorted(names) == sorted(check.name for check in ALL_CHECKS)
    for check in report["checks"]:
        assert set(check) == CHECK_FIELDS
        assert isinstance(check["unknown"], bool)
    not_passed = {c["name"]: c["observed"] for c in report["checks"] if c["verdict"] != "pass"}
    assert not_passed == {}
    assert report["summary"] == {
        "total": len(ALL_CHECKS),
        "pass": len(ALL_CHECKS),
        "differs": 0,
        "error": 0,
        "skipped": 0,
    }
    assert status == 0
    # What the checks created was taken away again, each object once.
    actions = {entry["action"] for entry in report["cleanup"]}
    assert actions <= {"voided", "deleted", "made inactive", "already inactive"}
    table = capsys.readouterr().out
    assert all(check.name in table for check in ALL_CHECKS)


def test_refuses_a_production_company(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")

    assert main(["verify-qbo", "--location", "loc-1"]) == 2
    assert "never runs against a live company" in capsys.readouterr().err


def test_a_location_needs_the_sandbox_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "emulator")

    assert main(["verify-qbo", "--location", "loc-1"]) == 2
    assert "QBO_ENVIRONMENT=sandbox" in capsys.readouterr().err
