"""The command line: flags map to config; `qbo-sync highlevel-emulator` reaches it."""

from __future__ import annotations

import pytest

from app.cli import main as qbo_sync_main
from highlevel_emulator.cli import build_parser, config_from_args


def test_flags_map_to_config() -> None:
    flags = ["--port", "8411", "--webhook-url", "http://h/x", "--webhook-drop-rate", "0.25"]
    flags += ["--test-mode", "--auto-consent", "--no-legacy-signature", "--rate-limit-burst", "5"]
    args = build_parser().parse_args(flags)
    config = config_from_args(args)
    assert config.base_url == "http://127.0.0.1:8411"
    assert config.webhook_url == "http://h/x"
    assert config.webhook_drop_rate == 0.25
    assert config.live_mode is False
    assert config.auto_consent is True
    assert config.legacy_signature is False
    assert config.rate_limit_burst == 5


def test_qbo_sync_command_dispatches_to_the_stand_in(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        qbo_sync_main(["highlevel-emulator", "--help"])
    assert exited.value.code == 0
    assert "--webhook-drop-rate" in capsys.readouterr().out
