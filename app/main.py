"""create_app(): the lifespan builds the database, engine, job queue and (optionally) a worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import register_error_handlers
from app.api.fast_intake import ServiceApp
from app.api.middleware import RequestContextMiddleware
from app.api.openapi import install_openapi
from app.api.routes import (
    callbacks,
    card,
    card_doctor,
    card_reconciliation,
    connections,
    crm_events,
    doctor,
    health,
    highlevel,
    highlevel_oauth,
    metrics,
    oauth,
    qbo_webhooks,
    reconciliation,
    sync_log,
)
from app.config import Settings, signing_secrets
from app.db import migrate
from app.db.direct import direct_pool
from app.db.provision import Database, migrate_to_head, open_database
from app.db.session import create_engine, create_session_factory, libpq_url
from app.jobs.app import build_job_app, worker_options
from app.jobs.supervisor import WorkerGaveUpError, WorkerSupervisor
from app.logging import get_logger
from app.services.container import Runtime
from app.services.intake_batch import IntakeBatcher
from app.state import AppState
from app.wiring import build_connect_flow, build_handlers, build_services

log = get_logger(__name__)


@dataclass
class ProcessExit:
    """How the process should end. A part the process cannot run without (its worker) that gives
    up sets a non-zero code and asks the server to stop, so a process supervisor restarts it."""

    code: int = 0
    reason: str | None = None
    # Set by whoever runs the server (app/cli.py); without it, /healthz alone reports the failure.
    request_stop: Callable[[], None] | None = None

    def fail(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason
        if self.request_stop is not None:
            self.request_stop()


EXIT_WORKER_GAVE_UP = 3


def create_app(
    settings: Settings,
    *,
    run_worker: bool = True,
    database: Database | None = None,
    process_exit: ProcessExit | None = None,
) -> FastAPI:
    """Build the service. `database` is opened (and closed) here unless the caller passes one."""
    exit_ = process_exit if process_exit is not None else ProcessExit()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database if database is not None else await asyncio.to_thread(open_database, settings)
        try:
            if settings.auto_migrate:
                await migrate_to_head(db.url)
            async with _running(app, settings, db, run_worker=run_worker, process_exit=exit_):
                yield
        finally:
            if owned:
                await asyncio.to_thread(db.close)

    app = ServiceApp(title="qbo-sync", version="0.1.0", lifespan=lifespan)
    # Added first, so it runs inside the request context (its 413s are logged with an id).
    app.add_middleware(
        BodyLimitMiddleware,
        own_limits={
            "/v1/crm/events": settings.crm.max_event_bytes,
            "/v1/qbo/webhooks": settings.qbo.max_webhook_bytes,
            "/v1/highlevel/webhooks": settings.crm.max_event_bytes,
        },
    )
    app.add_middleware(RequestContextMiddleware)
    register_error_handlers(app)
    # The CRM intake first: routes are matched in order and it takes most of the traffic.
    for module in (crm_events, qbo_webhooks, health, metrics, connections, oauth, sync_log, card):
        app.include_router(module.router)
    app.include_router(callbacks.router)
    app.include_router(doctor.router)
    app.include_router(card_doctor.router)
    app.include_router(reconciliation.router)
    app.include_router(card_reconciliation.router)
    app.include_router(highlevel.router)
    app.include_router(highlevel_oauth.router)
    install_openapi(app)
    return app


@asynccontextmanager
async def _running(
    app: FastAPI, settings: Settings, db: Database, *, run_worker: bool, process_exit: ProcessExit
) -> AsyncIterator[None]:
    engine = create_engine(db.url)
    session_factory = create_session_factory(engine)
    job_app = build_job_app(db.url, settings.worker)
    worker: asyncio.Task[None] | None = None
    try:
        async with (
            job_app.open_async(),
            direct_pool(db.url) as intake_pool,
            build_services(settings, session_factory) as services,
        ):
            intake = IntakeBatcher(intake_pool)
            supervisor = None
            if run_worker:
                runtime = Runtime(
                    settings=settings,
                    session_factory=session_factory,
                    services=services,
                    handlers=build_handlers(),
                )
                supervisor = WorkerSupervisor(
                    job_app, worker_options(runtime), settings.worker, libpq_url(db.url)
                )
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
                connect=build_connect_flow(settings, session_factory, services, job_app),
                worker=supervisor,
            )
            if supervisor is not None:
                worker = asyncio.create_task(supervisor.run(), name="job worker supervisor")
                worker.add_done_callback(lambda task: _worker_ended(task, process_exit))
                log.info("jobs.worker.started", concurrency=settings.worker.concurrency)
            yield
            await intake.close()
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, WorkerGaveUpError):
                    await worker
                log.info("jobs.worker.stopped")
    finally:
        await engine.dispose()


def _worker_ended(task: asyncio.Task[None], process_exit: ProcessExit) -> None:
    """The worker supervisor only ends by itself when it gives up: stop the whole process."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    reason = (
        str(exc) if isinstance(exc, WorkerGaveUpError) else f"worker supervisor crashed: {exc!r}"
    )
    log.error("service.stopping", reason=reason)
    process_exit.fail(EXIT_WORKER_GAVE_UP, reason)
