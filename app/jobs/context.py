"""What a task needs at run time, handed to procrastinate as the worker's additional context."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import JobContext

from app.config import Settings
from app.db.session import SessionFactory

RUNTIME_KEY = "qbs_runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: SessionFactory


def runtime_of(context: JobContext) -> Runtime:
    runtime = context.additional_context.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("worker started without a Runtime in its additional context")
    return runtime
