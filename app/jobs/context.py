"""How a task finds its Runtime: procrastinate hands it over as the worker's additional context."""

from __future__ import annotations

from procrastinate import JobContext

from app.services.container import Runtime

RUNTIME_KEY = "qbs_runtime"


def runtime_of(context: JobContext) -> Runtime:
    runtime = context.additional_context.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("worker started without a Runtime in its additional context")
    return runtime
