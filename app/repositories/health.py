"""SQL for readiness: the database answers and its schema is current."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.migrate import is_current


async def schema_is_current(connection: AsyncConnection, heads: set[str]) -> bool:
    await connection.execute(text("SELECT 1"))
    return await is_current(connection, heads)
