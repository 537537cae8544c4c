"""The command line: flags map to config; `qbo-sync highlevel-emulator` reaches it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_module_serves_and_logs_the_service_settings() -> None:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "-m", "highlevel_emulator", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        logged = json.loads(proc.stderr.readline())
        assert logged["HIGHLEVEL_API_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert logged["HIGHLEVEL_OAUTH_BASE_URL"] == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert health.json() == {"status": "ok"}
        key = httpx.get(f"http://127.0.0.1:{port}/_emulator/webhook-public-key").json()
        assert logged["HIGHLEVEL_WEBHOOK_PUBLIC_KEY"] == key["raw_base64"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
