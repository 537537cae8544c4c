"""`qbo-sync worker`: a job worker in a process of its own, kept running across database outages."""

from __future__ import annotations

import asyncio
import signal

from app.config import Settings
from app.db.provision import open_database
from app.db.session import create_engine, create_session_factory, libpq_url
from app.jobs.app import build_job_app, worker_options
from app.jobs.supervisor import WorkerGaveUpError, WorkerSupervisor
from app.logging import get_logger
from app.services.container import Runtime
from app.wiring import build_handlers, build_services

log = get_logger(__name__)

EXIT_GAVE_UP = 3


async def run_worker(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or until the worker gives up (exit 3)."""
    database = await asyncio.to_thread(open_database, settings)
    engine = create_engine(database.url)
    try:
        job_app = build_job_app(database.url, settings.worker)
        factory = create_session_factory(engine)
        async with job_app.open_async(), build_services(settings, factory) as services:
            runtime = Runtime(
                settings=settings,
                session_factory=factory,
                services=services,
                handlers=build_handlers(),
            )
            supervisor = WorkerSupervisor(
                job_app, worker_options(runtime), settings.worker, libpq_url(database.url)
            )
            worker = asyncio.create_task(supervisor.run(), name="job worker supervisor")
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, worker.cancel)
            log.info("jobs.worker.started", concurrency=settings.worker.concurrency)
            try:
                await worker
            except asyncio.CancelledError:
                log.info("jobs.worker.stopped")
            except WorkerGaveUpError as exc:
                log.error("jobs.worker.exiting", code=EXIT_GAVE_UP, reason=str(exc))
                return EXIT_GAVE_UP
    finally:
        await engine.dispose()
        await asyncio.to_thread(database.close)
    return 0
