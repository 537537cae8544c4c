"""How a task finds its Runtime (procrastinate hands it over as the worker's additional context)
and whether this run is its job's last."""

from __future__ import annotations

from procrastinate import JobContext

from app.services.container import Runtime

RUNTIME_KEY = "qbs_runtime"


def runtime_of(context: JobContext) -> Runtime:
    runtime = context.additional_context.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("worker started without a Runtime in its additional context")
    return runtime


def final_attempt(context: JobContext, runtime: Runtime) -> bool:
    """True when this run is the job's last: no retry follows, so a failure is its outcome.

    procrastinate counts earlier attempts; the retry strategy stops at retry_max_attempts.
    """
    attempts = context.job.attempts if context.job is not None else 0
    return attempts >= runtime.settings.worker.retry_max_attempts
