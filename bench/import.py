"""Initial import (Q1, Q3): time, QBO requests and memory for 10,000 customers + 10,000 invoices.

Run: uv run python bench/import.py [--customers 10000] [--invoices 10000]

Everything runs on this machine, set up like bench/qbo_calls.py (whose helpers it reuses): a
PostgreSQL (DATABASE_URL when set, else an embedded one in a temporary directory), the QBO
emulator in a process of its own (`python -m qbo_emulator --auto-consent`, 0 ms latency, real
limits), and the service with its in-process worker in this process, plus a CRM callback receiver
(accepts and counts; in this process too, so the CRM side of delivery is paid for).

A company is created in the emulator and seeded, then a location connects to it with *import
invoices* on; the clock runs from the start of the connect until `import_state` is `done` and
every callback is delivered. Reported:
- wall time of the import (and the part until the last callback was delivered);
- QBO requests, from the emulator's own request log (target <= 25 in all, connect reads included);
- peak RSS of this process (service + worker) and its growth during the import;
- a baseline measured in the same run: the same COUNT queries and pages of 1000 over the same
  objects, sent with bare HTTP to the emulator; the import's time is given as a ratio to it.
Results: stdout (JSON and a markdown table), and bench/results/import-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qbo_calls import (  # noqa: E402
    API_KEY,
    RETURN_URL,
    database,
    emulator_process,
    free_port,
    reset,
    serve,
    settings_for,
)

from app.db.provision import Database  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAGE = 1000
QUERIES = {
    "Customer": "SELECT {what} FROM Customer WHERE Active IN (true, false)",
    "Invoice": "SELECT {what} FROM Invoice",
}


def rss_now_mb() -> float:
    """Resident set size of this process now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_peak_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class RssSampler:
    """Samples this process's RSS every 20 ms, so the peak during the import alone is known."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_now_mb())
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Receiver:
    """The CRM end of the callbacks: accepts every one, counts them and their records."""

    def __init__(self) -> None:
        self.callbacks: dict[str, int] = {}
        self.records = 0
        self.bytes = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/callbacks")
        async def receive(request: Request) -> Response:
            body = await request.body()
            parsed = json.loads(body)
            kind = parsed["type"]
            self.callbacks[kind] = self.callbacks.get(kind, 0) + 1
            data = parsed["data"]
            self.records += len(data.get("contacts", ())) + len(data.get("invoices", ()))
            self.bytes += len(body)
            return Response(status_code=200)

        return app


@contextmanager
def receiver_server(receiver: Receiver) -> Iterator[str]:
    with serve(receiver.app(), free_port()) as url:
        yield f"{url}/callbacks"


class ImportBench:
    def __init__(self, service: str, emulator: str, url: str) -> None:
        self.service = service
        self.emulator = emulator
        self.url = url.replace("+psycopg", "")
        self.http = httpx.AsyncClient(timeout=120)

    async def company(self, customers: int, invoices: int) -> str:
        created = await self.http.post(f"{self.emulator}/_emulator/companies", json={})
        realm: str = created.json()["realm_id"]
        seeded = await self.http.post(
            f"{self.emulator}/_emulator/companies/{realm}/seed",
            json={"customers": customers, "invoices": invoices},
        )
        seeded.raise_for_status()
        return realm

    async def connect(self, location: str) -> None:
        response = await self.http.post(
            f"{self.service}/v1/connections",
            json={"location_id": location, "return_url": RETURN_URL, "import_invoices": True},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        next_url = response.json()["connect_url"]
        while not next_url.startswith(RETURN_URL):
            next_url = (await self.http.get(next_url)).headers["location"]
        if "status=connected" not in next_url:
            raise RuntimeError(f"connect failed: {next_url}")

    def _one(self, sql: str) -> Any:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(sql).fetchone()
        return row[0] if row else None

    async def until(self, sql: str, expected: Any, timeout_s: float = 900) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await asyncio.to_thread(self._one, sql)
            if isinstance(value, str) and value.startswith(("failed", "paused")):
                raise RuntimeError(f"import stopped: {value}")
            if value == expected:
                return time.perf_counter()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{sql!r} did not reach {expected!r}")

    async def request_log(self, realm: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.emulator}/_emulator/companies/{realm}/requests")
        log: dict[str, Any] = response.json()
        return log

    async def baseline(self, realm: str, customers: int, invoices: int) -> float:
        """Seconds for bare HTTP to count and page through the same objects, one page at a
        time like the import (the floor for any importer over this API)."""
        control = f"{self.emulator}/_emulator/companies/{realm}"
        token = (await self.http.post(f"{control}/tokens")).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/text",
        }
        url = f"{self.emulator}/v3/company/{realm}/query"
        started = time.perf_counter()
        for entity, total in (("Customer", customers), ("Invoice", invoices)):
            query = QUERIES[entity]
            counted = await self.http.post(
                url, content=query.format(what="COUNT(*)"), headers=headers
            )
            assert counted.json()["QueryResponse"]["totalCount"] == total
            for start in range(1, total + 1, PAGE):
                statement = f"{query.format(what='*')} ORDERBY Id STARTPOSITION {start} "
                page = await self.http.post(
                    url, content=f"{statement}MAXRESULTS {PAGE}", headers=headers
                )
                page.raise_for_status()
                assert len(page.json()["QueryResponse"][entity]) == min(PAGE, total - start + 1)
        return time.perf_counter() - started


async def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    emu_port, svc_port = free_port(), free_port()
    settings = settings_for(url, f"http://127.0.0.1:{emu_port}", svc_port, tmp)
    settings.worker.poll_interval_s = 0.1
    receiver = Receiver()
    with receiver_server(receiver) as callback_url:
        settings.crm.callback_url = callback_url
        service_app = create_app(settings, run_worker=True, database=Database(url))
        with emulator_process(emu_port) as emulator, serve(service_app, svc_port) as service:
            bench = ImportBench(service, emulator, url)
            realm = await bench.company(args.customers, args.invoices)
            rss_before = rss_now_mb()
            with RssSampler() as sampler:
                started = time.perf_counter()
                await bench.connect("loc_import")
                done_at = await bench.until(
                    "SELECT import_state FROM connections WHERE location_id = 'loc_import'", "done"
                )
                delivered_at = await bench.until(
                    "SELECT count(*) FROM crm_callbacks WHERE state = 'pending'", 0
                )
            log = await bench.request_log(realm)
            baseline_s = await bench.baseline(realm, args.customers, args.invoices)
            await bench.http.aclose()
    import_s = done_at - started
    expected = args.customers + args.invoices
    if receiver.records != expected:
        raise RuntimeError(f"the CRM received {receiver.records} records, not {expected}")
    return {
        "import_s": round(import_s, 2),
        "import_and_delivery_s": round(delivered_at - started, 2),
        "qbo_requests": log["total"],
        "qbo_requests_by_path": log["by_method_path"],
        "qbo_requests_target": 25,
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_during_import_mb": round(sampler.peak, 1),
        "rss_growth_during_import_mb": round(sampler.peak - rss_before, 1),
        "rss_peak_process_mb": round(rss_peak_mb(), 1),
        "callbacks": receiver.callbacks,
        "callback_mb": round(receiver.bytes / 2**20, 1),
        "baseline_bare_paging_s": round(baseline_s, 2),
        "ratio_to_baseline": round(import_s / baseline_s, 2),
        "records_per_s": round(expected / import_s),
        "sizes": {"customers": args.customers, "invoices": args.invoices, "page": PAGE},
    }


def machine_info() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging("WARNING")
    machine = machine_info()
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        reset(url)
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        machine["postgres"] = row[0] if row else "?"
        result = asyncio.run(run(args, url, Path(tmp)))
    report = {"machine": machine, **result, "at": datetime.now(UTC).isoformat()}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"| {key} | {value} |")
    print(f"| qbo_requests_by_path | {json.dumps(result['qbo_requests_by_path'])} |")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
