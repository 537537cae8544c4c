"""`qbo-sync serve` as a newcomer runs it: no DATABASE_URL, nothing configured."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.integrations.crm.signatures import sign
from tests.fixtures.events import invoice_event

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        assert process.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/readyz not 200 within {timeout_s} s")


def test_serve_on_the_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env.update({"QBS_DATA_DIR": str(tmp_path / "data"), "QBS_PORT": str(port)})
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=env,
            cwd=tmp_path,
            stderr=log,
            stdout=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        elapsed = wait_ready(base, process, timeout_s=30)
        print(f"serve ready in {elapsed:.2f} s")  # noqa: T201 - the figure the issue asks for
        secrets = json.loads((tmp_path / "data" / "secrets.json").read_text())
        registered = httpx.post(
            f"{base}/v1/connections",
            json={"location_id": "loc_1", "return_url": "http://127.0.0.1:3000/done"},
            headers={"Authorization": f"Bearer {secrets['CRM_API_KEY']}"},
        )
        assert registered.status_code == 201
        body = json.dumps(invoice_event()).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(secrets["CRM_SIGNING_SECRET"], body, int(time.time())),
        }
        assert httpx.post(f"{base}/v1/crm/events", content=body, headers=headers).status_code == 202
        assert httpx.post(f"{base}/v1/crm/events", content=body, headers=headers).status_code == 200
        postmaster = int((tmp_path / "data" / "pgdata" / "postmaster.pid").read_text().split()[0])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    logs = log_path.read_text()
    assert "db.embedded.started" in logs
    assert str(tmp_path / "data" / "pgdata") in logs
    assert secrets["CRM_SIGNING_SECRET"] not in logs
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(postmaster, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the embedded PostgreSQL outlived `serve`")
