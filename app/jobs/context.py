"""What a task needs at run time, handed to procrastinate as the worker's additional context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from procrastinate import JobContext

from app.config import Settings
from app.db.session import SessionFactory

if TYPE_CHECKING:
    # Services wires the job queue in; importing it here at run time would be a cycle.
    from app.wiring import Services

RUNTIME_KEY = "qbs_runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: SessionFactory
    services: Services


def runtime_of(context: JobContext) -> Runtime:
    runtime = context.additional_context.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("worker started without a Runtime in its additional context")
    return runtime
