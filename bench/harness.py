"""What the bench scripts share: ports, CPU pinning, a PostgreSQL to measure on, process start."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.db.embedded import EmbeddedPostgres
from app.db.session import libpq_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(cpu: int | None) -> list[str]:
    """A command prefix pinning a process to one CPU, when taskset is there to do it."""
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


@contextmanager
def postgres_server() -> Iterator[str]:
    """An admin URL: DATABASE_URL when set, else an embedded cluster in a temporary directory."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="qbs-bench-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp), delete_on_stop=True)
        url = embedded.start()
        try:
            yield url
        finally:
            embedded.stop()


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(libpq_url(admin_url)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start in {seconds:.0f} s")
