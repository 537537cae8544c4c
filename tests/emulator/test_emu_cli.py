"""The command line: flags map to config, and `python -m qbo_emulator` serves and logs its URLs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest

from qbo_emulator.cli import build_parser, config_from_args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_flags_map_to_config() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "8399",
            "--webhook-url",
            "http://h/x",
            "--verifier-token",
            "vt",
            "--webhook-format",
            "cloudevents",
            "--latency-ms",
            "7",
            "--auto-consent",
            "--client-id",
            "cid",
            "--client-secret",
            "cs",
        ]
    )
    config = config_from_args(args)
    assert config.base_url == "http://127.0.0.1:8399"
    assert (config.webhook_url, config.verifier_token, config.webhook_format) == (
        "http://h/x",
        "vt",
        "cloudevents",
    )
    assert (config.latency_ms, config.auto_consent, config.client_id, config.client_secret) == (
        7,
        True,
        "cid",
        "cs",
    )


@pytest.mark.slow
def test_module_serves_and_logs_service_settings() -> None:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "-m", "qbo_emulator", "--port", str(port), "--verifier-token", "vt-1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        logged = json.loads(line)
        assert logged["QBO_API_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert logged["QBO_OAUTH_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert logged["QBO_WEBHOOK_VERIFIER_TOKEN"] == "vt-1"
        assert logged["QBO_CLIENT_ID"] == "emulator-client-id"
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
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
