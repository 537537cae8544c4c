"""The embedded development database: pgserver, wrapped so it never leaks a server.

pgserver keeps the PIDs of the processes holding a server in ``.handle_pids.json`` and stops the
server when the last one exits through atexit. A holder killed by SIGKILL (or SIGTERM without a
handler) leaves its PID behind and the server then never stops, so dead PIDs are pruned first.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from app.logging import get_logger

log = get_logger(__name__)

HANDLE_PIDS_FILE = ".handle_pids.json"
_CONNECT_ATTEMPTS = 5


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead_holders(pgdata: Path) -> list[int]:
    """Remove PIDs of processes that no longer exist; returns the removed ones."""
    path = pgdata / HANDLE_PIDS_FILE
    if not path.exists():
        return []
    try:
        pids = [int(pid) for pid in json.loads(path.read_text() or "[]")]
    except (ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if _pid_alive(pid)]
    dead = [pid for pid in pids if pid not in alive]
    if dead or len(alive) != len(pids):
        path.write_text(json.dumps(alive))
    return dead


def _import_pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR when running as root.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def _wait_until_connectable(uri: str) -> None:
    # A postmaster that was SIGKILLed lingers as a zombie briefly; the first URI may refuse.
    for attempt in range(_CONNECT_ATTEMPTS):
        try:
            with psycopg.connect(uri, connect_timeout=3):
                return
        except psycopg.OperationalError:
            if attempt == _CONNECT_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


class EmbeddedPostgres:
    """A pgserver cluster under ``<data_dir>/pgdata``, stopped by :meth:`stop` or at exit."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the cluster and return a libpq URL for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        dead = prune_dead_holders(self.pgdata)
        if dead:
            log.warning("db.embedded.stale_holders_removed", pids=dead)
        pgserver = _import_pgserver()
        self._server = pgserver.get_server(
            self.pgdata, cleanup_mode="delete" if self._delete_on_stop else "stop"
        )
        uri: str = self._server.get_uri()
        try:
            _wait_until_connectable(uri)
        except psycopg.OperationalError:
            # The postmaster died between pgserver's check and ours: start it again, once.
            self._server = None
            self._server = pgserver.get_server(self.pgdata)
            uri = self._server.get_uri()
            _wait_until_connectable(uri)
        return uri

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    def stop(self) -> None:
        """Release this process's hold; the server stops when no other process holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
