"""Transaction-scoped advisory locks: one holder at a time across every process."""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class LockNamespace(IntEnum):
    TOKEN_REFRESH = 7001
    CONNECT = 7002
    CUSTOMER = 7003
    ITEM = 7004


async def advisory_xact_lock(session: AsyncSession, namespace: LockNamespace, key: str) -> None:
    """Wait for the lock; it is released when the session's transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
        {"namespace": int(namespace), "key": key},
    )
