"""What a process's job worker is doing: written by its supervisor, read by /healthz and /readyz."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkerState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"  # lost the database; finishing its running jobs before it restarts
    RECONNECTING = "reconnecting"
    GAVE_UP = "gave_up"
    STOPPED = "stopped"


@dataclass(frozen=True)
class WorkerStatus:
    """What this process's worker is doing, for /healthz, /readyz and logs."""

    state: WorkerState
    worker_id: int | None
    # Seconds since the current failure streak began (0 when running).
    failing_for_s: float
    restarts: int
    last_error: str | None

    @property
    def running(self) -> bool:
        return self.state is WorkerState.RUNNING

    def describe(self) -> str:
        if self.state is WorkerState.RUNNING:
            return "running"
        detail = f"{self.state.value} for {self.failing_for_s:.0f} s"
        return f"{detail} (last error: {self.last_error})" if self.last_error else detail
