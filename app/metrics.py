"""Prometheus metrics of the service (GET /metrics), in a registry of their own.

A dedicated `CollectorRegistry` instead of the global one: tests build many apps in one process
and the global registry refuses a second registration of the same name. The counters are module
level (one process, one set of counters); the queue gauges are read from PostgreSQL on scrape.

Label sets are bounded: event types come from the CRM schema (anything else is `other`), task
names from the registered tasks, HTTP status from a fixed class list, outcomes from fixed lists.
Per-realm series use only the realm id: a deployment serves a handful of QBO companies, and the
realm is what an operator needs to find a throttled or failing company. No location, object or
event ids ever become labels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

EVENTS_RECEIVED = Counter(
    "qbs_events_received",
    "Events received, by source (crm, qbo), type and intake outcome",
    ["source", "type", "outcome"],
    registry=REGISTRY,
)
JOBS = Counter(
    "qbs_jobs",
    "Jobs run by this process's worker, by task and outcome (succeeded, failed)",
    ["task", "outcome"],
    registry=REGISTRY,
)
QBO_REQUESTS = Counter(
    "qbs_qbo_requests",
    "QBO API attempts, by realm and status (HTTP code, or 'network' when no answer came)",
    ["realm", "status"],
    registry=REGISTRY,
)
QBO_LATENCY = Histogram(
    "qbs_qbo_request_seconds",
    "Latency of one QBO API attempt (slot held, request sent, answer read)",
    ["realm"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
QBO_THROTTLES = Counter(
    "qbs_qbo_throttles", "QBO answers of 429 (throttled), by realm", ["realm"], registry=REGISTRY
)
TOKEN_REFRESHES = Counter(
    "qbs_qbo_token_refreshes",
    "OAuth access-token refreshes, by realm and outcome (refreshed, invalid_grant)",
    ["realm", "outcome"],
    registry=REGISTRY,
)
CALLBACKS = Counter(
    "qbs_crm_callbacks",
    "CRM callback attempts, by outcome (delivered, retrying, failed)",
    ["outcome"],
    registry=REGISTRY,
)


def status_label(status: int | None) -> str:
    return "network" if status is None else str(status) if 100 <= status < 600 else "other"


def observe_qbo_attempt(realm_id: str, status: int | None, seconds: float) -> None:
    QBO_REQUESTS.labels(realm=realm_id, status=status_label(status)).inc()
    QBO_LATENCY.labels(realm=realm_id).observe(seconds)
    if status == 429:
        QBO_THROTTLES.labels(realm=realm_id).inc()


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Jobs waiting to run (status todo and due) and how long the oldest has waited."""

    waiting: int
    oldest_wait_s: float


QueueReader = Callable[[], Awaitable[QueueStats]]


class _QueueCollector(Collector):
    """Reports the stats last read on scrape; the route refreshes them before rendering."""

    def __init__(self) -> None:
        self.stats: QueueStats | None = None

    def collect(self) -> list[GaugeMetricFamily]:
        if self.stats is None:
            return []
        depth = GaugeMetricFamily("qbs_queue_depth", "Jobs waiting to run (due, not started)")
        depth.add_metric([], self.stats.waiting)
        age = GaugeMetricFamily(
            "qbs_queue_oldest_wait_seconds", "Seconds the oldest waiting job has waited"
        )
        age.add_metric([], self.stats.oldest_wait_s)
        return [depth, age]


_queue = _QueueCollector()
REGISTRY.register(_queue)


async def render(read_queue: QueueReader | None) -> bytes:
    """The text exposition; queue stats are read now (a failed read leaves them out)."""
    _queue.stats = None
    if read_queue is not None:
        _queue.stats = await read_queue()
    return generate_latest(REGISTRY)
