"""Task body of HighLevel's backstop poller: the due locations, then app/sync/highlevel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.direct import direct_pool
from app.jobs.context import runtime_of
from app.services.intake_batch import IntakeBatcher
from app.sync.highlevel.inbound import InboundDeps
from app.sync.highlevel.poller import due_locations, poll_all
from app.sync.highlevel.reads_factory import reads_of


async def poll_highlevel_task(context: JobContext, timestamp: int) -> None:
    """Periodic: poll each installed location whose HIGHLEVEL_POLL_INTERVAL_S has passed."""
    runtime = runtime_of(context)
    bind = runtime.session_factory.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    group = runtime.settings.highlevel
    due = await due_locations(
        runtime.session_factory, datetime.now(UTC), timedelta(seconds=group.poll_interval_s)
    )
    if not due:
        return
    # The same one-statement intake the webhook route uses, on a small pool of its own.
    async with direct_pool(bind.url.render_as_string(hide_password=False), max_size=2) as pool:
        deps = InboundDeps(
            factory=runtime.session_factory,
            batcher=IntakeBatcher(pool, max_statements=1),
            pool=pool,
            job_app=context.app,
            reads=reads_of(runtime.services.highlevel),
            replay_window=timedelta(seconds=group.replay_window_s),
        )
        await poll_all(deps, due)
