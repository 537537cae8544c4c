"""Run and check Alembic migrations from code (`qbo-sync migrate`, `serve`, `/readyz`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection


def _project_root() -> Path:
    # A source checkout has migrations/ beside app/; an installed image keeps them in its workdir.
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "migrations").is_dir() else Path.cwd()


ROOT = _project_root()


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: call from a thread when an event loop is running (env.py runs its own loop)."""
    command.upgrade(alembic_config(url), revision)


def head_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return set(script.get_heads())


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def is_current(connection: AsyncConnection, heads: set[str]) -> bool:
    return await connection.run_sync(_current) == heads
