"""QBO requests per realm under the emulator's real limits, and over 20 realms as workers grow.

Run: uv run python bench/realm_throughput.py [--duration 180] [--multi-duration 20]
                                             [--configs 1x2,1x4,1x8]

Everything runs on this machine, each in a process of its own: a PostgreSQL (DATABASE_URL's
server when set, else an embedded one in a temporary directory; each phase gets a fresh
database), the QBO emulator (`--latency-ms 150`, Intuit's real limits: 500 requests a minute
per realm, 10 a second and 10 in flight per realm and app, batch 40/120 a minute), `qbo-sync
serve --no-worker` for intake and the connect flow, and `qbo-sync worker` processes. Signed
CRM events go in through the real intake endpoint; QBO requests are read from the emulator's
own request log.

A phase: connect the locations (one new company each), warm up with one worker (one invoice per
location, so its customer and item exist: steady state after that), stop that worker, queue a
backlog of `invoice.sent` events for the known customer and item, then start the measured
worker process(es) and count the QBO requests made in the `duration` seconds after the first one.

1. One realm, one worker (default concurrency): requests per rolling minute as a fraction of
   500 (target >= 95 %), and 429s seen (target 0), by the throttle that gave them.
2. 20 realms at once, for each `processes x concurrency` config: aggregate QBO requests/s (should
   grow with workers), next to the baseline measured in the same run: the emulator's own rate for
   bare reads (GET customer) from as many concurrent clients over 20 other realms, which is the
   ceiling `clients / latency` for that much concurrency.
Results: a markdown table on stdout, and bench/results/realm_throughput-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db.session import libpq_url as libpq  # noqa: E402
from app.integrations.crm.signatures import sign  # noqa: E402
from bench.harness import (  # noqa: E402
    free_port,
    fresh_database,
    postgres_server,
    wait_listening,
)

RESULTS = ROOT / "bench" / "results"
SECRET = "bench-signing-secret"  # noqa: S105 - a throwaway local value
API_KEY = "bench-api-key"
RETURN_URL = "http://127.0.0.1:9/done"
LIMIT_PER_MINUTE = 500
LATENCY_MS = 150
MULTI_REALMS = 20


class Processes:
    """Subprocesses started by this run, each logging to a file; stopped in reverse order."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.running.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 20) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running = [(n, p) for n, p in self.running if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.running)):
            self.stop(proc, grace=10)

    def tail(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def service_env(db_url: str, emulator: str, port: int, tmp: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBS_", "CRM_", "QBO_"))}
    return env | {
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "WARNING",
        "CRM_SIGNING_SECRET": SECRET,
        "CRM_API_KEY": API_KEY,
        "TOKEN_ENCRYPTION_KEYS": key,
        "QBS_AUTO_MIGRATE": "true",
        "QBS_DATA_DIR": str(tmp / "data"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "QBO_API_BASE_URL": emulator,
        "QBO_OAUTH_BASE_URL": emulator,
    }


def contact() -> dict[str, Any]:
    return {"id": "c1", "email": "person1@example.com", "first_name": "Person", "last_name": "1"}


def invoice(tag: str, n: int, location: str) -> bytes:
    payload = {
        "id": f"evt-{tag}-{n}",
        "type": "invoice.sent",
        "occurred_at": "2099-01-01T00:00:00Z",
        "location_id": location,
        "data": {
            "id": f"inv-{tag}-{n}",
            "number": f"B-{tag}-{n}",
            "status": "sent",
            "issue_date": "2099-01-01",
            "due_date": "2099-02-01",
            "created_at": "2099-01-01T00:00:00Z",
            "updated_at": "2099-01-01T00:00:00Z",
            "currency": "USD",
            "contact": contact(),
            "line_items": [{"name": "Consulting", "quantity": 3, "unit_price": "9.99"}],
            "totals": {
                "subtotal": "29.97",
                "discount": "0.00",
                "tax": "0.00",
                "total": "29.97",
                "amount_paid": "0.00",
                "amount_due": "29.97",
            },
        },
    }
    return json.dumps(payload).encode()


@dataclass
class Phase:
    name: str
    locations: list[str]
    realms: list[str]
    db_url: str
    service: str


class Bench:
    def __init__(self, args: argparse.Namespace, admin_url: str, emulator: str, tmp: Path) -> None:
        self.args = args
        self.admin_url = admin_url
        self.emulator = emulator
        self.tmp = tmp
        self.procs = Processes(tmp)
        self.http = httpx.AsyncClient(timeout=60)
        self.key = Fernet.generate_key().decode()

    # --- service, worker and connections ---

    def start_service(self, db_url: str, name: str) -> tuple[str, dict[str, str]]:
        port = free_port()
        env = service_env(db_url, self.emulator, port, self.tmp, self.key)
        argv = [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)]
        proc = self.procs.start(f"{name}-serve", argv, env)
        try:
            wait_listening(port, proc, "qbo-sync serve", 60)
        except RuntimeError:
            sys.stderr.write(self.procs.tail(f"{name}-serve"))
            raise
        return f"http://127.0.0.1:{port}", env

    def start_workers(
        self, env: dict[str, str], name: str, processes: int, concurrency: int | None
    ) -> list[subprocess.Popen[bytes]]:
        worker_env = dict(env)
        if concurrency is not None:
            worker_env["QBS_WORKER_CONCURRENCY"] = str(concurrency)
        argv = [sys.executable, "-m", "app.cli", "worker"]
        return [self.procs.start(f"{name}-worker{k}", argv, worker_env) for k in range(processes)]

    async def connect(self, service: str, location: str) -> str:
        """Connect the location to a new company (--auto-consent picks the newest)."""
        await self.http.post(f"{self.emulator}/_emulator/companies", json={"country": "US"})
        response = await self.http.post(
            f"{service}/v1/connections",
            json={"location_id": location, "return_url": RETURN_URL},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        response.raise_for_status()
        next_url = response.json()["connect_url"]
        realm = ""
        while not next_url.startswith(RETURN_URL):
            next_url = (await self.http.get(next_url)).headers["location"]
            realm = parse_qs(urlsplit(next_url).query).get("realmId", [realm])[0]
        if not realm:
            raise RuntimeError(f"no realm for {location}")
        return realm

    async def post(self, service: str, bodies: list[bytes]) -> None:
        async def one(body: bytes) -> None:
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(SECRET, body, int(time.time())),
            }
            response = await self.http.post(
                f"{service}/v1/crm/events", content=body, headers=headers
            )
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code}: {response.text}")

        for start in range(0, len(bodies), 32):
            await asyncio.gather(*(one(b) for b in bodies[start : start + 32]))

    async def settle(self, db_url: str, expected: int, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with await psycopg.AsyncConnection.connect(libpq(db_url)) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM crm_events WHERE state IN ('done','skipped','failed')"
                )
                row = await cur.fetchone()
            if row is not None and row[0] >= expected:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"warm-up events not processed in {seconds:.0f} s")

    async def outcomes(self, db_url: str) -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(libpq(db_url)) as conn:
            cur = await conn.execute("SELECT state::text, count(*) FROM crm_events GROUP BY 1")
            rows = await cur.fetchall()
        return {str(state): int(count) for state, count in rows}

    # --- the emulator's request log ---

    async def log(self, realm: str) -> list[dict[str, Any]]:
        url = f"{self.emulator}/_emulator/companies/{realm}/requests"
        entries: list[dict[str, Any]] = (await self.http.get(url)).json()["requests"]
        return entries

    async def throttled(self, realms: list[str]) -> dict[str, int]:
        """429s the emulator's throttles gave so far, by kind, summed over the realms."""
        total: dict[str, int] = {}
        for realm in realms:
            url = f"{self.emulator}/_emulator/companies/{realm}/requests"
            for kind, count in (await self.http.get(url)).json().get("throttled", {}).items():
                total[kind] = total.get(kind, 0) + int(count)
        return total

    async def log_totals(self, realms: list[str]) -> dict[str, int]:
        totals = {}
        for realm in realms:
            url = f"{self.emulator}/_emulator/companies/{realm}/requests"
            totals[realm] = int((await self.http.get(url)).json()["total"])
        return totals

    # --- a phase ---

    async def prepare(self, name: str, count: int) -> tuple[Phase, dict[str, str]]:
        """Fresh database, service, `count` connected locations warmed up; no worker left."""
        db_cm = fresh_database(self.admin_url, f"qbs_bench_realm_{name}")
        db_url = db_cm.__enter__()
        self._cleanup.append(db_cm)
        service, env = self.start_service(db_url, name)
        locations = [f"loc_{name}_{k}" for k in range(count)]
        realms = [await self.connect(service, location) for location in locations]
        warm = self.start_workers(env, f"{name}-warm", 1, None)
        await self.post(
            service, [invoice(f"{name}-warm", k, loc) for k, loc in enumerate(locations)]
        )
        await self.settle(db_url, len(locations))
        await asyncio.sleep(1.0)  # the initial imports queued by the connects finish too
        self.procs.stop(warm[0])
        return Phase(name, locations, realms, db_url, service), env

    async def measure(
        self,
        phase: Phase,
        env: dict[str, str],
        processes: int,
        concurrency: int | None,
        duration: float,
        backlog: int,
    ) -> dict[str, Any]:
        bodies = [
            invoice(f"{phase.name}-load", n, phase.locations[n % len(phase.locations)])
            for n in range(backlog)
        ]
        queued_at = time.monotonic()
        await self.post(phase.service, bodies)
        queue_s = time.monotonic() - queued_at
        before = await self.log_totals(phase.realms)
        throttled_before = await self.throttled(phase.realms)
        previous = {realm: len(await self.log(realm)) for realm in phase.realms}
        workers = self.start_workers(env, f"{phase.name}-run", processes, concurrency)
        started = time.monotonic()
        while await self.log_totals(phase.realms) == before:
            if time.monotonic() - started > 60:
                raise RuntimeError("the workers made no QBO request in 60 s")
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(
                    "a worker exited:\n" + self.procs.tail(f"{phase.name}-run-worker0")
                )
            await asyncio.sleep(0.2)
        first_seen = time.monotonic()
        await asyncio.sleep(max(0.0, duration - (time.monotonic() - first_seen)) + 2.0)
        logs = {realm: (await self.log(realm))[previous[realm] :] for realm in phase.realms}
        throttled = {
            kind: count - throttled_before.get(kind, 0)
            for kind, count in (await self.throttled(phase.realms)).items()
            if count > throttled_before.get(kind, 0)
        }
        for worker in workers:
            self.procs.stop(worker)
        times = {
            realm: [(datetime.fromisoformat(e["at"]).timestamp(), e["status"]) for e in entries]
            for realm, entries in logs.items()
        }
        everything = sorted(t for entries in times.values() for t in entries)
        if not everything:
            raise RuntimeError("no QBO request logged")
        t0 = everything[0][0]
        window = [(t, s) for t, s in everything if t0 <= t < t0 + duration]
        per_realm_minute = [
            rolling_minutes([t for t, _ in entries if t0 <= t < t0 + duration], t0, duration)
            for entries in times.values()
        ]
        return {
            "processes": processes,
            "concurrency": concurrency if concurrency is not None else "default",
            "realms": len(phase.realms),
            "backlog_events": backlog,
            "backlog_queue_seconds": round(queue_s, 1),
            "window_seconds": duration,
            "qbo_requests": len(window),
            "qbo_requests_per_s": round(len(window) / duration, 2),
            "qbo_requests_per_minute_per_realm": round(
                len(window) / duration * 60 / len(phase.realms), 1
            ),
            "status_429": sum(1 for _, s in everything if s == 429),
            "status_429_by_throttle": throttled,
            "status_other_errors": sum(1 for _, s in everything if s >= 400 and s != 429),
            "rolling_minute": per_realm_minute[0] if len(per_realm_minute) == 1 else None,
            "events": await self.outcomes(phase.db_url),
        }

    async def baseline_reads(self, clients: int, realms: list[str], seconds: float) -> float:
        """The emulator's own rate for bare GET customer from `clients` concurrent clients."""
        targets = []
        for realm in realms:
            control = f"{self.emulator}/_emulator/companies/{realm}"
            await self.http.post(f"{control}/seed", json={"customers": 1})
            token = (await self.http.post(f"{control}/tokens")).json()["access_token"]
            customer = (await self.http.get(f"{control}/entities/Customer")).json()["Customer"][0]
            url = f"{self.emulator}/v3/company/{realm}/customer/{customer['Id']}"
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            targets.append((url, headers))
        done = [0]
        stop_at = time.monotonic() + seconds

        async def client(k: int) -> None:
            n = k
            while time.monotonic() < stop_at:
                url, headers = targets[n % len(targets)]
                response = await self.http.get(url, headers=headers)
                response.raise_for_status()
                done[0] += 1
                n += clients

        started = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return done[0] / (time.monotonic() - started)

    async def run(self) -> dict[str, Any]:
        args = self.args
        self._cleanup: list[Any] = []
        try:
            result: dict[str, Any] = {}
            if args.duration > 0:
                print(f"one realm: warming up, then {args.duration:.0f} s measured", flush=True)
                phase, env = await self.prepare("one", 1)
                per_s = LIMIT_PER_MINUTE / 60
                backlog = math.ceil(per_s * (args.duration + 15) * 1.1)
                one = await self.measure(phase, env, 1, None, args.duration, backlog)
                one["fraction_of_limit"] = round(
                    one["qbo_requests"] / (args.duration / 60 * LIMIT_PER_MINUTE), 4
                )
                result["one_realm"] = one
                self._close_phase()
                print(
                    f"one realm: {one['qbo_requests']} requests in {args.duration:.0f} s = "
                    f"{one['fraction_of_limit']:.1%} of 500/min "
                    f"({one['qbo_requests_per_minute_per_realm']}/min), 429s {one['status_429']} "
                    f"{one['status_429_by_throttle']}",
                    flush=True,
                )
            multi = []
            for processes, concurrency in args.configs:
                name = f"m{processes}x{concurrency}"
                print(f"{MULTI_REALMS} realms, {processes} x {concurrency}: warming up", flush=True)
                phase, env = await self.prepare(name, MULTI_REALMS)
                ideal = processes * concurrency / (LATENCY_MS / 1000)
                backlog = min(args.max_backlog, math.ceil(ideal * (args.multi_duration + 10)))
                row = await self.measure(
                    phase, env, processes, concurrency, args.multi_duration, backlog
                )
                self._close_phase()
                row["baseline_bare_reads_per_s"] = round(
                    await self.baseline_reads(
                        processes * concurrency,
                        [await self._company() for _ in range(MULTI_REALMS)],
                        args.baseline_seconds,
                    ),
                    2,
                )
                row["ratio_to_baseline"] = round(
                    row["qbo_requests_per_s"] / max(row["baseline_bare_reads_per_s"], 1e-9), 3
                )
                multi.append(row)
                print(
                    f"  {row['qbo_requests_per_s']} QBO requests/s (baseline "
                    f"{row['baseline_bare_reads_per_s']}), 429s {row['status_429']}",
                    flush=True,
                )
            result["multi_realm"] = multi
            return result
        finally:
            self.procs.stop_all()
            self._close_phase()
            await self.http.aclose()

    async def _company(self) -> str:
        response = await self.http.post(
            f"{self.emulator}/_emulator/companies", json={"country": "US"}
        )
        return str(response.json()["realm_id"])

    def _close_phase(self) -> None:
        self.procs.stop_all()
        while self._cleanup:
            self._cleanup.pop().__exit__(None, None, None)


def rolling_minutes(times: list[float], t0: float, duration: float) -> dict[str, Any] | None:
    """Requests in each 60 s window sliding by 1 s inside the measured window, as % of 500."""
    if duration < 60:
        return None
    times = sorted(times)
    counts = []
    lo = hi = 0
    for k in range(int(duration - 60) + 1):
        start = t0 + k
        while lo < len(times) and times[lo] < start:
            lo += 1
        while hi < len(times) and times[hi] < start + 60:
            hi += 1
        counts.append(hi - lo)
    return {
        "windows": len(counts),
        "min_requests": min(counts),
        "max_requests": max(counts),
        "min_fraction": round(min(counts) / LIMIT_PER_MINUTE, 4),
        "mean_fraction": round(sum(counts) / len(counts) / LIMIT_PER_MINUTE, 4),
    }


@contextmanager
def emulator_process(procs: Processes, port: int) -> Iterator[str]:
    argv = [sys.executable, "-m", "qbo_emulator", "--port", str(port), "--auto-consent"]
    argv += ["--latency-ms", str(LATENCY_MS), "--log-level", "warning"]
    argv += ["--rate-limit-per-minute", str(LIMIT_PER_MINUTE), "--max-in-flight", "10"]
    argv += ["--rate-limit-per-second", "10"]
    proc = procs.start("emulator", argv, dict(os.environ))
    try:
        wait_listening(port, proc, "emulator", 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop(proc)


def machine(admin_url: str) -> dict[str, Any]:
    with psycopg.connect(libpq(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "postgres": row[0] if row else "?",
        "postgres_source": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
    }


def table(result: dict[str, Any]) -> str:
    lines = []
    one = result.get("one_realm")
    if one:
        rolling = one["rolling_minute"] or {}
        lines += [
            "| one realm (500/min, 10/s, 10 in flight, 150 ms) | value | target |",
            "|---|---|---|",
            f"| window | {one['window_seconds']:.0f} s | 180 s |",
            f"| QBO requests | {one['qbo_requests']} | |",
            f"| requests per minute | {one['qbo_requests_per_minute_per_realm']} | <= 500 |",
            f"| fraction of 500/min used (average) | {one['fraction_of_limit']:.1%} | >= 95 % |",
            f"| lowest rolling minute | {rolling.get('min_fraction', 'n/a (window < 60 s)')} | |",
            f"| 429s seen | {one['status_429']} {one['status_429_by_throttle'] or ''} | 0 |",
            f"| other 4xx/5xx | {one['status_other_errors']} | |",
            "",
        ]
    lines += [
        f"| {MULTI_REALMS} realms: processes x concurrency | QBO requests/s | baseline bare "
        "reads/s (same clients) | ratio | 429s |",
        "|---|---|---|---|---|",
    ]
    for row in result.get("multi_realm", []):
        lines.append(
            f"| {row['processes']} x {row['concurrency']} | {row['qbo_requests_per_s']} | "
            f"{row['baseline_bare_reads_per_s']} | {row['ratio_to_baseline']} | "
            f"{row['status_429']} |"
        )
    return "\n".join(lines)


def configs(text: str) -> list[tuple[int, int]]:
    out = []
    for part in filter(None, text.split(",")):
        processes, _, concurrency = part.partition("x")
        out.append((int(processes), int(concurrency)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=180.0, help="one-realm window (0: skip)")
    parser.add_argument("--multi-duration", type=float, default=20.0, help="per 20-realm config")
    parser.add_argument(
        "--configs",
        type=configs,
        default=configs("1x2,1x4,1x8"),
        help="worker processes x concurrency, comma-separated (default 1x2,1x4,1x8; '' skips)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--max-backlog", type=int, default=4000)
    args = parser.parse_args()
    started = time.monotonic()
    with postgres_server() as admin_url, tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        info = machine(admin_url)
        print(f"machine: {json.dumps(info)}", flush=True)
        procs = Processes(tmp)
        with emulator_process(procs, free_port()) as emulator:
            bench = Bench(args, admin_url, emulator, tmp)
            try:
                result = asyncio.run(bench.run())
            except BaseException:
                for path in sorted(tmp.glob("*.log")):
                    sys.stderr.write(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}")
                raise
    report = {
        "benchmark": "realm_throughput",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load_average": list(os.getloadavg()),
        "settings": {
            "duration_s": args.duration,
            "multi_duration_s": args.multi_duration,
            "configs": [f"{p}x{c}" for p, c in args.configs],
            "emulator": f"--latency-ms {LATENCY_MS}, {LIMIT_PER_MINUTE}/min, 10/s, 10 in flight",
            "baseline_seconds": args.baseline_seconds,
        },
        **result,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    one = result.get("one_realm")
    if one:
        report["meets_targets"] = {
            "fraction_ge_0.95": one["fraction_of_limit"] >= 0.95,
            "zero_429": one["status_429"] == 0,
        }
    print(table(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"realm_throughput-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)} in {report['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
