"""The embedded PostgreSQL: starts, keeps its data across restarts, never outlives its holders."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from app.db.embedded import EmbeddedPostgres, prune_dead_holders

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys, time, psycopg
    from pathlib import Path
    from app.db.embedded import EmbeddedPostgres
    db = EmbeddedPostgres(Path(sys.argv[1]))
    url = db.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (body text)")
        if sys.argv[2] != "-":
            conn.execute("INSERT INTO notes VALUES (%s)", (sys.argv[2],))
        rows = [r[0] for r in conn.execute("SELECT body FROM notes ORDER BY body")]
    print("PID", db.pid, flush=True)
    print("ROWS", ",".join(rows), flush=True)
    if sys.argv[3] == "hang":
        time.sleep(60)
    """
)


def run(data_dir: Path, note: str, mode: str = "exit") -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SCRIPT, str(data_dir), note, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, str]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of a dead parent is reaped by init shortly; give it a moment.
    return True


def wait_dead(pid: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_starts_keeps_data_and_stops_with_the_process(tmp_path: Path) -> None:
    first = finish(run(tmp_path, "first"))
    assert first["ROWS"] == "first"
    assert wait_dead(int(first["PID"])), "the server outlived the process that started it"

    second = finish(run(tmp_path, "second"))
    assert second["ROWS"] == "first,second"
    assert wait_dead(int(second["PID"]))


def test_a_killed_holder_does_not_leak_the_server(tmp_path: Path) -> None:
    holder = run(tmp_path, "-", "hang")
    assert holder.stdout is not None
    pid_line = holder.stdout.readline()
    assert pid_line.startswith("PID"), holder.stderr.read() if holder.stderr else ""
    postmaster = int(pid_line.split()[1])
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert alive(postmaster), "precondition: a SIGKILLed holder leaves the server running"

    # The next process removes the dead holder, attaches, and stops the server when it exits.
    after = finish(run(tmp_path, "-"))
    assert int(after["PID"]) == postmaster
    assert wait_dead(postmaster), "the server leaked after its holder was killed"


def test_prune_dead_holders_keeps_live_ones(tmp_path: Path) -> None:
    (tmp_path / ".handle_pids.json").write_text(f"[{os.getpid()}, 999999999]")
    assert prune_dead_holders(tmp_path) == [999999999]
    assert (tmp_path / ".handle_pids.json").read_text() == f"[{os.getpid()}]"


@pytest.mark.parametrize("name_length", [8, 90], ids=["short-path", "path-too-long-for-a-socket"])
def test_the_socket_directory_is_writable_by_its_owner_only(name_length: int) -> None:
    """Smaller holes: the embedded database (trust authentication) listens on a socket in a
    directory nobody else can write, so nobody can put a socket of their own in its place."""
    # Not under pytest's tmp_path: as root the server runs as pgserver's user, which must
    # traverse the path (see tests/resilience/processes.py: private_postgres).
    root = Path(tempfile.mkdtemp(prefix="qbs-emb-"))
    db = EmbeddedPostgres(root / ("d" * name_length), delete_on_stop=True)
    try:
        url = db.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert db.socket_dir is not None
        mode = db.socket_dir.stat().st_mode
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), (db.socket_dir, stat.filemode(mode))
        assert db.socket_dir.stat().st_uid == db.pgdata.stat().st_uid
    finally:
        db.stop()
        shutil.rmtree(root, ignore_errors=True)
