"""Throughput of the QBO emulator on simple reads, next to a bare FastAPI baseline.

Run: uv run python bench/emulator_throughput.py [--duration 5] [--concurrency 8]

Each server runs under uvicorn (same settings) in its own subprocess pinned to one CPU when the
machine has more than one; a separate driver process, pinned elsewhere, keeps `concurrency`
keep-alive connections busy with GET /v3/company/{realm}/customer/{id} for a bounded time.
Results go to stdout and to bench/results/emulator_throughput-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import cpus, free_port, pin  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BASELINE_BODY = {"Customer": {"Id": "1", "SyncToken": "0", "DisplayName": "Baseline"}, "time": "t"}


def serve_baseline(port: int) -> None:
    """A bare FastAPI endpoint with the same path shape, returning constant JSON."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/v3/company/{realm_id}/customer/{customer_id}")
    async def customer(realm_id: str, customer_id: str) -> dict[str, Any]:
        return BASELINE_BODY

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, port: int, cpu: int | None) -> subprocess.Popen[bytes]:
    if kind == "emulator":
        argv = [sys.executable, "-m", "qbo_emulator", "--port", str(port), "--log-level", "warning"]
        argv += ["--rate-limit-per-minute", "1000000000", "--max-in-flight", "1000000"]
    else:
        argv = [sys.executable, __file__, "--serve-baseline", str(port)]
    proc = subprocess.Popen(pin(cpu) + argv, cwd=ROOT, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def prepare_emulator(base: str, customers: int) -> tuple[str, str]:
    with httpx.Client(base_url=base, timeout=60) as client:
        realm = client.post("/_emulator/companies", json={"country": "US"}).json()["realm_id"]
        client.post(f"/_emulator/companies/{realm}/seed", json={"customers": customers})
        token = client.post(f"/_emulator/companies/{realm}/tokens").json()["access_token"]
    return realm, token


async def _connection(
    port: int, paths: list[str], token: str, stop_at: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()
    head = (
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    )
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(f"GET {rng.choice(paths)} HTTP/1.1\r\n{head}".encode())
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - started)
            out["ok" if status == 200 else "errors"] += 1
    finally:
        writer.close()


async def _drive(
    port: int, paths: list[str], token: str, seconds: float, concurrency: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": 0, "errors": 0, "latencies": []}
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, paths, token, stop_at, out) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    lat = sorted(out.pop("latencies"))
    out["seconds"] = round(elapsed, 3)
    out["requests_per_s"] = round(out["ok"] / elapsed, 1)
    if lat:
        out["latency_ms_p50"] = round(statistics.median(lat) * 1000, 3)
        out["latency_ms_p99"] = round(lat[int(len(lat) * 0.99) - 1] * 1000, 3)
    return out


def drive_main(spec: str) -> None:
    """Driver process entry: warm up, then measure; prints one JSON line."""
    args = json.loads(spec)
    asyncio.run(
        _drive(args["port"], args["paths"], args["token"], args["warmup"], args["concurrency"])
    )
    result = asyncio.run(
        _drive(args["port"], args["paths"], args["token"], args["duration"], args["concurrency"])
    )
    print(json.dumps(result))


def run_driver(spec: dict[str, Any], cpu: int | None) -> dict[str, Any]:
    argv = [*pin(cpu), sys.executable, __file__, "--drive", json.dumps(spec)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    kind: str, args: argparse.Namespace, server_cpu: int | None, driver_cpu: int | None
) -> dict[str, Any]:
    port = free_port()
    proc = start_server(kind, port, server_cpu)
    try:
        if kind == "emulator":
            realm, token = prepare_emulator(f"http://127.0.0.1:{port}", args.customers)
            paths = [f"/v3/company/{realm}/customer/{n}" for n in range(1, args.customers + 1)]
        else:
            token, paths = "baseline", ["/v3/company/1/customer/1"]
        spec = {"port": port, "paths": paths, "token": token, "warmup": args.warmup}
        spec |= {"duration": args.duration, "concurrency": args.concurrency}
        return run_driver(spec, driver_cpu)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _median_run(kind_runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(kind_runs, key=lambda r: float(r["requests_per_s"]))
    median = dict(ordered[len(ordered) // 2])
    median["all_requests_per_s"] = [r["requests_per_s"] for r in kind_runs]
    return median


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": cpus(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs; median reported")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return 0
    if args.drive:
        drive_main(args.drive)
        return 0
    usable = cpus()
    server_cpu, driver_cpu = (usable[0], usable[1]) if len(usable) > 1 else (None, None)
    info = machine()
    print(f"machine: {json.dumps(info)}")
    print(f"server pinned to cpu {server_cpu}, driver to cpu {driver_cpu}")
    runs: dict[str, list[dict[str, Any]]] = {"emulator": [], "baseline": []}
    for _ in range(args.repeat):
        # Alternate the two servers so background load on a shared machine hits both alike.
        for kind, kind_runs in runs.items():
            kind_runs.append(measure(kind, args, server_cpu, driver_cpu))
    results = {kind: _median_run(kind_runs) for kind, kind_runs in runs.items()}
    ratio = results["emulator"]["requests_per_s"] / max(results["baseline"]["requests_per_s"], 1e-9)
    report = {
        "benchmark": "emulator_throughput",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load_average": list(os.getloadavg()),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "customers": args.customers,
            "repeat": args.repeat,
            "server_cpu": server_cpu,
            "driver_cpu": driver_cpu,
            "request": "GET /v3/company/{realm}/customer/{id} (Bearer auth)",
        },
        "results": results,
        "emulator_to_baseline_ratio": round(ratio, 3),
        "target_requests_per_s": 1000,
        "meets_target": results["emulator"]["requests_per_s"] >= 1000,
    }
    for kind, result in results.items():
        rate = result["requests_per_s"]
        p50, p99 = result.get("latency_ms_p50"), result.get("latency_ms_p99")
        print(
            f"{kind:9s} {rate:>9.1f} req/s  p50 {p50} ms  p99 {p99} ms  errors {result['errors']}"
        )
    print(f"emulator/baseline ratio: {ratio:.2f}  (target >= 1000 req/s: {report['meets_target']})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"emulator_throughput-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
