"""Engine, session factory and the session scopes: the only place in the service that commits.

The transaction rule (checked by tools/check_layers.py): a function that takes a session never
commits; a function that takes a session factory owns its transaction (`session_scope`). A short
transaction opened while a flow's own transaction is open goes through `side_transaction`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Normalise any Postgres URL to the psycopg 3 async driver SQLAlchemy expects."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL in the plain form libpq (psycopg, procrastinate) accepts."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        **kwargs,
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def side_transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own, opened from inside a flow whose transaction stays open.

    Why it exists: some writes must not wait for the flow's transaction. A QBO request slot
    taken or given back (other jobs wait for it), a refreshed token (QBO has already spent the
    old refresh token), the income account chosen for a connection (written in the job's
    transaction it would lock the connection row that a token refresh must update while the job
    waits for it), the link to a customer QBO has just created (it must survive when the job
    fails later and rolls back), and why a record is being retried (the job's own transaction
    is rolled back). Each commits when its block ends, whatever the flow does
    next. One name for them, so that each is visible and `session_scope` stays the mark of a
    function that owns its whole unit of work.
    """
    async with session_scope(factory) as session:
        yield session


def factory_beside(session: AsyncSession) -> SessionFactory:
    """A session factory on the engine `session` is bound to, for a `side_transaction`."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    return create_session_factory(engine)


async def raw_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under a session, so procrastinate defers inside our transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver
