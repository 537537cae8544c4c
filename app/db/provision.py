"""Find the database: DATABASE_URL when set, else the embedded one under the data directory."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.config import Settings
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from app.logging import get_logger

log = get_logger(__name__)


@dataclass
class Database:
    url: str
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            log.info("db.embedded.released", data_dir=str(self.embedded.data_dir))
            self.embedded = None


def open_database(settings: Settings) -> Database:
    """Blocking (pgserver runs initdb/pg_ctl); call before the event loop or in a thread."""
    if settings.database_url:
        return Database(settings.database_url)
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    log.info(
        "db.embedded.started",
        message=f"no DATABASE_URL set: using the embedded PostgreSQL in {embedded.pgdata}",
        data_dir=str(embedded.pgdata),
        pid=embedded.pid,
    )
    return Database(url, embedded)


async def migrate_to_head(url: str) -> None:
    # Alembic's env.py runs its own event loop, so it needs a thread of its own.
    await asyncio.to_thread(migrate.upgrade, url)
    log.info("db.migrated", revision="head")
