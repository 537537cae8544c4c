"""Logs a person can read on a terminal, JSON lines for machines (LOG_FORMAT, app/logging.py).

The service's and the emulator's logging are configured onto a stream that is, or is not, a
terminal; and the emulator is run under a real pseudo-terminal and through a pipe.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from app.logging import configure_logging, get_logger
from qbo_emulator.cli import _configure_logging as configure_emulator_logging
from tests.fixtures.live import free_port

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def service_line(log_format: str, stream: io.StringIO) -> str:
    configure_logging("INFO", log_format, stream)
    get_logger("tests.logs").info("qbo.webhook.accepted", realm_id="123", api_key="s3cret")
    return stream.getvalue().strip()


def test_on_a_terminal_the_service_writes_coloured_lines() -> None:
    line = service_line("auto", Terminal())
    assert ESC in line
    assert "qbo.webhook.accepted" in line
    assert "s3cret" not in line, "secrets are redacted whatever the format"
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(line)


@pytest.mark.parametrize(
    ("log_format", "stream"),
    [("auto", io.StringIO()), ("json", Terminal())],
    ids=["not-a-terminal", "LOG_FORMAT=json-on-a-terminal"],
)
def test_otherwise_the_service_writes_json_lines(log_format: str, stream: io.StringIO) -> None:
    record = json.loads(service_line(log_format, stream))
    assert record["event"] == "qbo.webhook.accepted"
    assert record["realm_id"] == "123"
    assert record["api_key"] == "[redacted]"


def test_console_asked_for_without_a_terminal_is_readable_without_colour_codes() -> None:
    line = service_line("console", io.StringIO())
    assert "qbo.webhook.accepted" in line
    assert ESC not in line


def emulator_line(log_format: str, stream: io.StringIO) -> str:
    configure_emulator_logging("info", log_format, stream)
    structlog.get_logger("qbo_emulator").info("qbo_emulator.started", port=8300)
    return stream.getvalue().strip()


def test_the_emulator_writes_coloured_lines_on_a_terminal_and_json_otherwise() -> None:
    assert ESC in emulator_line("auto", Terminal())
    assert json.loads(emulator_line("auto", io.StringIO()))["event"] == "qbo_emulator.started"
    assert json.loads(emulator_line("json", Terminal()))["port"] == 8300


def read_until(fd: int, needle: str, timeout_s: float = 30) -> str:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while needle.encode() not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not printed; got {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the terminal closed: the process ended
                break
    return seen.decode(errors="replace")


def run_emulator(env: dict[str, str], terminal: bool) -> str:
    command = [sys.executable, "-m", "qbo_emulator", "--port", str(free_port())]
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    if terminal:
        leader, follower = pty.openpty()
        out: int = follower
    else:
        leader, out = os.pipe()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=ROOT
    )
    os.close(out)
    try:
        return read_until(leader, "qbo_emulator.started")
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.close(leader)


def test_the_emulator_process_colours_a_terminal_and_pipes_json() -> None:
    shown = run_emulator({"LOG_FORMAT": "auto"}, terminal=True)
    assert ESC in shown
    piped = run_emulator({"LOG_FORMAT": "auto"}, terminal=False)
    started = next(line for line in piped.splitlines() if "qbo_emulator.started" in line)
    assert json.loads(started)["event"] == "qbo_emulator.started"
    forced = run_emulator({"LOG_FORMAT": "json"}, terminal=True)
    started = next(line for line in forced.splitlines() if "qbo_emulator.started" in line)
    assert json.loads(started.strip())["event"] == "qbo_emulator.started"
