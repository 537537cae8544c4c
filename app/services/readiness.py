"""Is this replica ready? The rules, as a pure function of what the database and worker say.

Readiness is about this replica (docs/design.md, 6. Operations): its database and schema, its own
job worker when it runs one, and whether runnable jobs are left with no live worker at all. A job
waiting behind another job of its object (a poison event, one company's QuickBooks outage) is not
runnable, so it never takes a replica, or every replica, out of the load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.repositories.jobs import WorkerHeartbeats
from app.services.worker_state import WorkerState, WorkerStatus


@dataclass(frozen=True)
class JobsView:
    runnable: int
    oldest_runnable_wait_s: float
    heartbeats: WorkerHeartbeats
    own_worker: WorkerStatus | None  # None: this process runs no worker
    max_wait_s: float
    stalled_after_s: float


@dataclass(frozen=True)
class JobsVerdict:
    problem: str | None  # None: ready
    details: dict[str, Any] = field(default_factory=dict)


def judge_jobs(view: JobsView) -> JobsVerdict:
    details: dict[str, Any] = {
        "jobs_runnable": view.runnable,
        "oldest_runnable_wait_s": round(view.oldest_runnable_wait_s, 1),
        "live_workers": view.heartbeats.live,
    }
    if view.own_worker is not None:
        details["worker"] = view.own_worker.describe()
        problem = _own_worker_problem(view)
        if problem is not None:
            return JobsVerdict(problem, details)
    late = view.runnable > 0 and view.oldest_runnable_wait_s > view.max_wait_s
    if late and view.heartbeats.live == 0:
        return JobsVerdict(_no_worker(view), details)
    if late:
        # Live workers, yet a runnable job waits: they are saturated (a flood) or every slot is
        # stuck in a job. Taking intake away would not help either; /metrics shows the backlog.
        details["jobs_note"] = (
            f"runnable jobs wait over {view.max_wait_s:.0f} s while"
            f" {view.heartbeats.live} worker(s) are live: saturated or stuck in jobs"
        )
    return JobsVerdict(None, details)


def _own_worker_problem(view: JobsView) -> str | None:
    own = view.own_worker
    assert own is not None
    if own.state in (WorkerState.GAVE_UP, WorkerState.STOPPED):
        return f"this replica's job worker is {own.describe()}"
    # A worker coming back from a database restart takes a few seconds (it finishes its jobs,
    # then reconnects with backoff): not a reason to flap. Down for longer, it is dead.
    if own.state is not WorkerState.RUNNING:
        late = own.failing_for_s > view.stalled_after_s
        return f"this replica's job worker is {own.describe()}" if late else None
    if own.worker_id is None:
        return None  # registering: it has a heartbeat within moments
    age = view.heartbeats.own_heartbeat_age_s
    if age is None:
        return "this replica's job worker is no longer registered (its heartbeat row is gone)"
    if age > view.stalled_after_s:
        return (
            f"this replica's job worker sent no heartbeat for {age:.0f} s"
            f" (QBS_WORKER_STALLED_AFTER_S is {view.stalled_after_s:.0f} s): it is stuck"
        )
    return None


def _no_worker(view: JobsView) -> str:
    newest = view.heartbeats.newest_heartbeat_age_s
    seen = (
        "no worker is registered"
        if newest is None
        else f"the last worker heartbeat was {newest:.0f} s ago"
    )
    return (
        f"{view.runnable} runnable job(s) waiting; the oldest for"
        f" {view.oldest_runnable_wait_s:.0f} s, over the {view.max_wait_s:.0f} s limit"
        f" (QBS_READY_MAX_JOB_WAIT_S), and {seen}: is a worker running?"
        " Start `qbo-sync worker` or `qbo-sync serve` without --no-worker."
    )
