"""Typed application state built by the lifespan and read by routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.direct import DirectPool
from app.db.session import SessionFactory
from app.jobs.supervisor import WorkerSupervisor
from app.services.container import Services
from app.services.intake_batch import IntakeBatcher
from app.sync.connections.connect import ConnectFlow


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
    # Autocommit connections for the one-statement CRM intake (app/db/direct.py).
    direct_pool: DirectPool
    intake: IntakeBatcher
    job_app: App
    migration_heads: set[str]
    signing_secrets: list[str]
    services: Services
    # The OAuth connect flow (routes and the card start and finish connections through it).
    connect: ConnectFlow
    # This process's job worker (serve without --no-worker), None when it runs none.
    worker: WorkerSupervisor | None = None


def app_state(request: Request) -> AppState:
    state = request.app.state.qbs
    assert isinstance(state, AppState)
    return state
