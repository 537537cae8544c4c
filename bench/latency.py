"""QBO change -> CRM callback latency, with webhooks and with every webhook lost (CDC backstop).

Run: uv run python bench/latency.py [--changes 40] [--lost 8] [--cdc-interval 5]

Same harness as bench/qbo_calls.py: PostgreSQL (DATABASE_URL or embedded), the QBO emulator in a
process of its own (0 ms latency, real limits, webhooks to the service), the service with its
in-process worker, and a CRM receiver, each served by uvicorn on 127.0.0.1. A "change" is a QBO
user's edit of a customer through the emulator's control API; its latency runs from just before
that call until the receiver holds the `contact.upsert` carrying the new name (one clock, this
process). Changes are made one at a time with a short random pause, so this is latency, not
throughput.

- with webhooks: the emulator's default 0.2 s batching window is included (Intuit's own
  delivery delay is not modelled); target p95 < 2 s (docs/design.md §5).
- webhooks lost: drop rate 100 %, CDC poll interval shortened to --cdc-interval seconds (the
  periodic task fires every second and polls a connection once its interval has passed); the
  figure is reported in seconds and as a fraction of the interval (expected <= 1 + processing).
Results: stdout, and bench/results/latency-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procrastinate import App  # noqa: E402

from app.db.provision import Database  # noqa: E402
from app.jobs import app as job_app_module  # noqa: E402
from app.jobs.retry import CappedJitterBackoff  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402
from app.sync.qbo_to_crm import cdc  # noqa: E402
from bench.qbo_calls import (  # noqa: E402
    Bench,
    database,
    emulator_process,
    free_port,
    reset,
    serve,
    settings_for,
)

RESULTS = ROOT / "bench" / "results"
POLL_TASK = "bench.qbo.cdc.poll_all"


def wire() -> None:
    """The QBO -> CRM wiring (handlers, task body, a 1 s periodic CDC poll) for this run."""
    original = job_app_module.register_tasks

    def register(app: App, retry: CappedJitterBackoff) -> None:
        original(app, retry)
        poll = app.task(name=POLL_TASK, pass_context=True, queueing_lock=POLL_TASK)(
            cdc.poll_all_task
        )
        app.periodic(cron="* * * * * *", periodic_id=POLL_TASK)(poll)

    job_app_module.register_tasks = register  # type: ignore[assignment]


class Receiver:
    """Records when each contact.upsert arrives, by the display name it carries."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/crm/callbacks")
        async def receive(request: Request) -> Response:
            body = json.loads(await request.body())
            now = time.monotonic()
            if body.get("type") == "contact.upsert":
                for record in body["data"].get("contacts", []):
                    with self.lock:
                        self.arrived.setdefault(str(record.get("display_name")), now)
            return Response(status_code=200)

        return app


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(percentile(values, 95), 3),
        "max_s": round(max(values), 3),
    }


async def measure(
    http: httpx.AsyncClient,
    control: str,
    receiver: Receiver,
    customer_id: str,
    count: int,
    label: str,
    timeout_s: float,
) -> list[float]:
    latencies: list[float] = []
    for n in range(count):
        name = f"{label} {n}"
        started = time.monotonic()
        response = await http.patch(
            f"{control}/entities/Customer/{customer_id}", json={"DisplayName": name}
        )
        response.raise_for_status()
        while name not in receiver.arrived:
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"no callback for {name!r} in {timeout_s} s")
            await asyncio.sleep(0.005)
        latencies.append(receiver.arrived[name] - started)
        await asyncio.sleep(random.uniform(0.05, 0.3))
    return latencies


async def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    emu_port, svc_port, crm_port = free_port(), free_port(), free_port()
    settings = settings_for(url, f"http://127.0.0.1:{emu_port}", svc_port, tmp)
    settings.worker.poll_interval_s = 0.1
    receiver = Receiver()
    settings.crm.callback_url = f"http://127.0.0.1:{crm_port}/crm/callbacks"
    settings.worker.cdc_interval_s = args.cdc_interval
    service_app = create_app(settings, run_worker=True, database=Database(url))
    with (
        emulator_process(emu_port) as emulator,
        serve(service_app, svc_port) as service,
        serve(receiver.app(), crm_port),
    ):
        bench = Bench(service, emulator, url)
        realm = await bench.connect()
        http = bench.http
        control = f"{emulator}/_emulator/companies/{realm}"
        await http.patch(
            f"{emulator}/_emulator/config",
            json={"webhook_url": f"{service}/v1/qbo/webhooks", "webhook_drop_rate": 0.0},
        )
        created = await http.post(f"{control}/entities/Customer", json={"DisplayName": "warm"})
        customer_id = created.json()["Customer"]["Id"]
        await measure(http, control, receiver, customer_id, 3, "warm-up", 30)
        with_webhooks = await measure(
            http, control, receiver, customer_id, args.changes, "webhook", 30
        )
        await http.patch(f"{emulator}/_emulator/config", json={"webhook_drop_rate": 1.0})
        lost = await measure(
            http, control, receiver, customer_id, args.lost, "lost", args.cdc_interval * 3 + 10
        )
        stats = (await http.get(f"{emulator}/_emulator/webhooks")).json()["stats"]
        await http.aclose()
    lost_summary = summary(lost)
    return {
        "with_webhooks": summary(with_webhooks),
        "webhooks_lost": {
            **lost_summary,
            "cdc_interval_s": args.cdc_interval,
            "p50_over_interval": round(lost_summary["p50_s"] / args.cdc_interval, 3),
            "p95_over_interval": round(lost_summary["p95_s"] / args.cdc_interval, 3),
            "max_over_interval": round(lost_summary["max_s"] / args.cdc_interval, 3),
        },
        "emulator_webhook_stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--lost", type=int, default=8)
    parser.add_argument("--cdc-interval", type=float, default=5.0)
    args = parser.parse_args()
    configure_logging("WARNING")
    wire()
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        reset(url)
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        machine["postgres"] = row[0] if row else "?"
        result = asyncio.run(run(args, url, Path(tmp)))
    report = {"machine": machine, **result, "at": datetime.now(UTC).isoformat()}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"latency-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    lost = result["webhooks_lost"]
    hooks = result["with_webhooks"]
    print("| path | n | p50 | p95 | max |\n|---|---|---|---|---|")
    print(
        f"| webhooks | {hooks['n']} | {hooks['p50_s']} s | {hooks['p95_s']} s | "
        f"{hooks['max_s']} s |"
    )
    print(
        f"| webhooks lost, CDC every {lost['cdc_interval_s']:g} s | {lost['n']} | "
        f"{lost['p50_s']} s ({lost['p50_over_interval']}x) | "
        f"{lost['p95_s']} s ({lost['p95_over_interval']}x) | "
        f"{lost['max_s']} s ({lost['max_over_interval']}x) |"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
