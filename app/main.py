"""create_app(): the lifespan builds the database, engine, job queue and (optionally) a worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import register_error_handlers
from app.api.middleware import RequestContextMiddleware
from app.api.openapi import install_openapi
from app.api.routes import (
    callbacks,
    card,
    connections,
    crm_events,
    health,
    metrics,
    oauth,
    qbo_webhooks,
    sync_log,
)
from app.api.state import AppState
from app.config import Settings, signing_secrets
from app.db import migrate
from app.db.direct import direct_pool
from app.db.provision import Database, migrate_to_head, open_database
from app.db.session import create_engine, create_session_factory
from app.jobs.app import build_job_app, worker_options
from app.jobs.context import Runtime
from app.logging import get_logger
from app.sync.intake_batch import IntakeBatcher
from app.wiring import build_services

log = get_logger(__name__)


def create_app(
    settings: Settings, *, run_worker: bool = True, database: Database | None = None
) -> FastAPI:
    """Build the service. `database` is opened (and closed) here unless the caller passes one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database if database is not None else await asyncio.to_thread(open_database, settings)
        try:
            if settings.auto_migrate:
                await migrate_to_head(db.url)
            async with _running(app, settings, db, run_worker=run_worker):
                yield
        finally:
            if owned:
                await asyncio.to_thread(db.close)

    app = FastAPI(title="qbo-sync", version="0.1.0", lifespan=lifespan)
    # Added first, so it runs inside the request context (its 413s are logged with an id).
    app.add_middleware(
        BodyLimitMiddleware,
        own_limits={
            "/v1/crm/events": settings.crm.max_event_bytes,
            "/v1/qbo/webhooks": settings.qbo.max_webhook_bytes,
        },
    )
    app.add_middleware(RequestContextMiddleware)
    register_error_handlers(app)
    # The CRM intake first: routes are matched in order and it takes most of the traffic.
    for module in (crm_events, qbo_webhooks, health, metrics, connections, oauth, sync_log, card):
        app.include_router(module.router)
    app.include_router(callbacks.router)
    install_openapi(app)
    return app


@asynccontextmanager
async def _running(
    app: FastAPI, settings: Settings, db: Database, *, run_worker: bool
) -> AsyncIterator[None]:
    engine = create_engine(db.url)
    session_factory = create_session_factory(engine)
    job_app = build_job_app(db.url, settings.worker)
    worker: asyncio.Task[None] | None = None
    try:
        async with (
            job_app.open_async(),
            direct_pool(db.url) as intake_pool,
            build_services(settings, session_factory, job_app) as services,
        ):
            intake = IntakeBatcher(intake_pool)
            app.state.qbs = AppState(
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                direct_pool=intake_pool,
                intake=intake,
                job_app=job_app,
                migration_heads=migrate.head_revisions(),
                signing_secrets=signing_secrets(settings),
                services=services,
            )
            if run_worker:
                runtime = Runtime(
                    settings=settings, session_factory=session_factory, services=services
                )
                worker = asyncio.create_task(job_app.run_worker_async(**worker_options(runtime)))
                log.info("jobs.worker.started", concurrency=settings.worker.concurrency)
            yield
            await intake.close()
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                log.info("jobs.worker.stopped")
    finally:
        await engine.dispose()
