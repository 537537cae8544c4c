"""`qbo-sync worker`: a job worker in a process of its own."""

from __future__ import annotations

import asyncio
import signal

from app.config import Settings
from app.db.provision import open_database
from app.db.session import create_engine, create_session_factory
from app.jobs.app import build_job_app, worker_options
from app.jobs.context import Runtime
from app.logging import get_logger
from app.wiring import build_services

log = get_logger(__name__)


async def run_worker(settings: Settings) -> None:
    database = await asyncio.to_thread(open_database, settings)
    engine = create_engine(database.url)
    try:
        job_app = build_job_app(database.url, settings.worker)
        factory = create_session_factory(engine)
        async with job_app.open_async(), build_services(settings, factory, job_app) as services:
            runtime = Runtime(settings=settings, session_factory=factory, services=services)
            worker = asyncio.create_task(job_app.run_worker_async(**worker_options(runtime)))
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, worker.cancel)
            log.info("jobs.worker.started", concurrency=settings.worker.concurrency)
            try:
                await worker
            except asyncio.CancelledError:
                log.info("jobs.worker.stopped")
    finally:
        await engine.dispose()
        await asyncio.to_thread(database.close)
