"""CRM event intake: accepted events/s at saturation and p50/p99, next to a bare FastAPI INSERT.

Run: uv run python bench/intake.py [--step-seconds 5] [--rates 50,100,200,400,800,1600]

Two servers, one after the other, each in a subprocess under the same uvicorn settings as
`qbo-sync serve` (uvloop/httptools when installed, no access log):
- ours: `python -m app.cli serve --no-worker` on a fresh database (DATABASE_URL's server when set,
  else an embedded PostgreSQL in a temporary directory), one location registered;
- the baseline: a bare FastAPI app written below whose POST endpoint does one INSERT of the raw
  body through a psycopg async pool (as many connections as the service's pool).
A separate driver process (raw asyncio sockets, keep-alive connections opened as needed) sends
signed `invoice.sent` events with unique ids at rising rates, open loop: each request has a
scheduled send time and its latency counts from that time, so a server falling behind is seen.
A step is saturated when fewer than 90 % of the offered events are accepted (202) in time, or
more than 1 % fail; the ramp stops at the first saturated step. Saturation is the highest
accepted/s seen; then a new driver runs 2 s at 70 % of it (opening its connections; reported as
"70% warm-up") and the steady step at that rate that gives the p99 the target speaks of. The
driver does not collect garbage during a step (it collects between steps): a full collection over
a step's tens of thousands of live tasks paused it for tens of milliseconds, counted as latency.
With two or more CPUs the server is pinned to one and the driver to another (PostgreSQL floats).
Results: a markdown table on stdout, and bench/results/intake-<utc>.json (gitignored).
Targets (docs/design.md §5): ours/baseline accepted/s >= 0.8, p99 < 50 ms at 70 % of saturation.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request  # module level: the endpoint's annotation is resolved here

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db.session import libpq_url as libpq  # noqa: E402
from bench.harness import (  # noqa: E402
    cpus,
    free_port,
    fresh_database,
    pin,
    postgres_server,
    wait_listening,
)

RESULTS = ROOT / "bench" / "results"
SECRET = "bench-signing-secret"  # noqa: S105 - a throwaway local value
API_KEY = "bench-api-key"
RETURN_URL = "http://127.0.0.1:9/done"
LOCATION = "loc_bench"
EVENTS_PATH = "/v1/crm/events"
BASELINE_TABLE = "bench_intake_baseline"
# The service's SQLAlchemy pool: pool_size 10 plus max_overflow 10 (app/db/session.py).
BASELINE_POOL = (10, 20)
SATURATED_FRACTION = 0.9
MAX_ERROR_FRACTION = 0.01


# --- helpers shared by every role ------------------------------------------------------------


# --- the baseline server (runs in its own process) -------------------------------------------


def serve_baseline(port: int) -> None:
    """A bare FastAPI app: POST stores the raw body with one INSERT, answers 202."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        libpq(os.environ["DATABASE_URL"]),
        min_size=BASELINE_POOL[0],
        max_size=BASELINE_POOL[1],
        open=False,
        kwargs={"autocommit": True},
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, "
                "body text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
            )
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post(EVENTS_PATH, status_code=202)
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        async with pool.connection() as conn:
            cur = await conn.execute(
                f"INSERT INTO {BASELINE_TABLE} (body) VALUES (%s) RETURNING id",  # noqa: S608
                (body.decode("utf-8"),),
            )
            row = await cur.fetchone()
        return JSONResponse({"id": row[0] if row else None, "status": "accepted"}, 202)

    # The settings `qbo-sync serve` uses (app/cli.py _serve).
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


# --- the load driver (runs in its own process) -----------------------------------------------


def event_body(tag: str, n: int) -> bytes:
    payload = {
        "id": f"evt-{tag}-{n}",
        "type": "invoice.sent",
        "occurred_at": "2099-01-01T00:00:00Z",
        "location_id": LOCATION,
        "data": {
            "id": f"inv-{tag}-{n}",
            "number": f"B-{tag}-{n}",
            "status": "sent",
            "issue_date": "2099-01-01",
            "due_date": "2099-02-01",
            "created_at": "2099-01-01T00:00:00Z",
            "updated_at": "2099-01-01T00:00:00Z",
            "currency": "USD",
            "contact": {
                "id": f"c{n % 50}",
                "email": f"person{n % 50}@example.com",
                "first_name": "Person",
                "last_name": str(n % 50),
            },
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


def build_requests(port: int, tag: str, count: int) -> list[bytes]:
    from app.integrations.crm.signatures import sign

    now = int(time.time())
    out = []
    for n in range(count):
        body = event_body(tag, n)
        head = (
            f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Signature: {sign(SECRET, body, now)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


class Pool:
    """Keep-alive connections to one port, opened on demand up to `limit`."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.gate = asyncio.Semaphore(limit)
        self.opened = 0

    async def send(self, raw: bytes) -> int:
        async with self.gate:
            # As HTTP clients do (httpcore checks the socket before reuse): an idle connection
            # the server has closed (keep-alive timeout) is dropped, not written to.
            while self.idle and self.idle[-1][0].at_eof():
                self.idle.pop()[1].close()
            if self.idle:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.opened += 1
            try:
                writer.write(raw)
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                await reader.readexactly(length)
            except BaseException:
                writer.close()
                raise
            if close:
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


async def run_step(pool: Pool, raws: list[bytes], rate: float, limit_s: float) -> dict[str, Any]:
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    clock = time.perf_counter
    latencies: list[float] = []
    counts = {"accepted": 0, "rejected": 0, "errors": 0, "timeouts": 0}
    statuses: dict[str, int] = {}
    last_done = [0.0]

    async def one(at: float, raw: bytes) -> None:
        try:
            status = await asyncio.wait_for(pool.send(raw), limit_s - (clock() - at))
        except TimeoutError:
            counts["timeouts"] += 1
            return
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            counts["errors"] += 1
            return
        done = clock()
        last_done[0] = max(last_done[0], done)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 202:
            counts["accepted"] += 1
            latencies.append(done - at)
        else:
            counts["rejected"] += 1

    tasks: list[asyncio.Task[None]] = []
    start = clock() + 0.01
    for i, raw in enumerate(raws):
        at = start + i / rate
        delay = at - clock()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at, raw)))
    await asyncio.gather(*tasks)
    offered_s = len(raws) / rate
    elapsed = max(offered_s, last_done[0] - start)
    lat = sorted(latencies)
    total = len(raws)
    result: dict[str, Any] = {
        "offered_per_s": round(rate, 1),
        "sent": total,
        **counts,
        "seconds": round(elapsed, 3),
        "accepted_per_s": round(counts["accepted"] / elapsed, 1),
        "latency_ms_p50": None if not lat else round(percentile(lat, 0.5) * 1000, 2),  # type: ignore[operator]
        "latency_ms_p99": None if not lat else round(percentile(lat, 0.99) * 1000, 2),  # type: ignore[operator]
        "latency_ms_max": None if not lat else round(lat[-1] * 1000, 2),
        "statuses": statuses,
        "connections_opened": pool.opened,
    }
    failed = total - counts["accepted"]
    result["saturated"] = (
        counts["accepted"] / elapsed < SATURATED_FRACTION * rate
        or failed > MAX_ERROR_FRACTION * total
    )
    return result


async def drive(spec: dict[str, Any]) -> list[dict[str, Any]]:
    pool = Pool(spec["port"], spec["max_connections"])
    results = []
    steps = list(spec["steps"])
    try:
        for k, step in enumerate(steps):
            count = max(1, int(step["rate"] * step["seconds"]))
            raws = build_requests(spec["port"], f"{spec['tag']}-{k}", count)
            # No collection inside a step: a step keeps tens of thousands of tasks alive, and a
            # full collection over them paused this driver for tens of milliseconds, which the
            # open-loop latencies of both servers counted as theirs. Collected between steps.
            gc.collect()
            gc.disable()
            try:
                result = await run_step(pool, raws, step["rate"], spec["timeout"])
            finally:
                gc.enable()
            result["name"] = step.get("name", "ramp")
            results.append(result)
            if spec["stop_when_saturated"] and result["saturated"]:
                break
            if k == len(steps) - 1 and step["rate"] * 2 <= spec.get("max_rate", 0):
                # Not saturated yet: keep doubling, up to the bound.
                steps.append({**step, "rate": step["rate"] * 2})
            await asyncio.sleep(spec["pause"])
    finally:
        pool.close()
    return results


def drive_main(spec_text: str) -> None:
    spec = json.loads(spec_text)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(drive(spec))))


def run_driver(spec: dict[str, Any], cpu: int | None) -> list[dict[str, Any]]:
    argv = [*pin(cpu), sys.executable, __file__, "--drive", json.dumps(spec)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"driver failed:\n{done.stderr[-3000:]}")
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- orchestration ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(
    kind: str, port: int, db_url: str, cpu: int | None, tmp: Path, log_level: str = "WARNING"
) -> Iterator[int]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBS_", "CRM_", "QBO_"))}
    env |= {"DATABASE_URL": db_url, "LOG_LEVEL": log_level}
    if kind == "ours":
        env |= {
            "CRM_SIGNING_SECRET": SECRET,
            "CRM_API_KEY": API_KEY,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "QBS_AUTO_MIGRATE": "true",
            "QBS_DATA_DIR": str(tmp / "data"),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        argv = [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)]
    else:
        argv = [sys.executable, __file__, "--serve-baseline", str(port)]
    log = (tmp / f"{kind}.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter
        pin(cpu) + argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_listening(port, proc, kind, 60)
        yield proc.pid
    except BaseException:
        log.flush()
        sys.stderr.write((tmp / f"{kind}.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def register_location(port: int) -> None:
    import httpx

    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/connections",
        json={"location_id": LOCATION, "return_url": RETURN_URL},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    response.raise_for_status()


def stored_events(db_url: str, kind: str) -> int:
    import psycopg

    table = "crm_events" if kind == "ours" else BASELINE_TABLE
    with psycopg.connect(libpq(db_url)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def measure(
    kind: str,
    args: argparse.Namespace,
    db_url: str,
    cpus_: tuple[int | None, int | None],
    tmp: Path,
) -> dict[str, Any]:
    server_cpu, driver_cpu = cpus_
    port = free_port()
    with server(kind, port, db_url, server_cpu, tmp, args.log_level) as pid:
        if kind == "ours":
            register_location(port)
        base = {"port": port, "max_connections": args.max_connections, "timeout": args.timeout}
        base |= {"pause": args.pause}
        warm = [{"rate": args.rates[0], "seconds": args.warmup, "name": "warmup"}]
        run_driver(
            {**base, "tag": f"{kind}-w", "steps": warm, "stop_when_saturated": False}, driver_cpu
        )
        ramp_steps = [{"rate": r, "seconds": args.step_seconds} for r in args.rates]
        ramp = run_driver(
            {
                **base,
                "tag": f"{kind}-r",
                "steps": ramp_steps,
                "stop_when_saturated": True,
                "max_rate": args.max_rate,
            },
            driver_cpu,
        )
        saturation = max(step["accepted_per_s"] for step in ramp)
        reached = any(step["saturated"] for step in ramp)
        steady_rate = max(1.0, round(0.7 * saturation, 1))
        # A new driver process starts with no connection: the first seconds open a few hundred
        # at once (the ramp up of a client, not the steady state the target speaks of), so
        # they are a step of their own, reported but not counted in the steady p99.
        steady_steps = [
            {"rate": steady_rate, "seconds": args.steady_warmup, "name": "70% warm-up"},
            {"rate": steady_rate, "seconds": args.steady_seconds, "name": "70% of saturation"},
        ]
        time.sleep(args.pause)
        cpu_before = cpu_seconds(pid)
        warm_up, steady = run_driver(
            {**base, "tag": f"{kind}-s", "steps": steady_steps, "stop_when_saturated": False},
            driver_cpu,
        )
        # CPU per event is steadier than events/s on a shared machine: it ignores time the
        # server spends waiting for a core.
        used = cpu_seconds(pid) - cpu_before
        accepted = warm_up["accepted"] + steady["accepted"]
        steady["server_cpu_ms_per_event"] = round(used * 1000 / accepted, 3) if accepted else None
    return {
        "saturation_accepted_per_s": saturation,
        "saturation_reached": reached,
        "ramp": ramp,
        "at_70_percent": steady,
        "at_70_percent_warm_up": warm_up,
        "rows_stored": stored_events(db_url, kind),
    }


def machine(admin_url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(libpq(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return {
        "cores": os.cpu_count(),
        "usable_cpus": cpus(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "postgres": row[0] if row else "?",
        "postgres_source": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
        "uvicorn_loop_http": f"{loop}/{http}",
    }


def table(report: dict[str, Any]) -> str:
    ours, base = report["results"]["ours"], report["results"]["baseline"]
    lines = [
        "| measure | ours | baseline | ratio | target |",
        "|---|---|---|---|---|",
        (
            f"| accepted/s at saturation | {ours['saturation_accepted_per_s']} | "
            f"{base['saturation_accepted_per_s']} | {report['ratio_accepted_per_s']} | >= 0.8 |"
        ),
    ]
    for key, label in (("latency_ms_p50", "p50"), ("latency_ms_p99", "p99")):
        o, b = ours["at_70_percent"][key], base["at_70_percent"][key]
        ratio = round(b / o, 3) if o and b else None
        target = "< 50 ms (ours)" if key == "latency_ms_p99" else ""
        lines.append(
            f"| {label} ms at 70 % of saturation | {o} | {b} | {ratio} (base/ours) | {target} |"
        )
    o_cpu = ours["at_70_percent"].get("server_cpu_ms_per_event")
    b_cpu = base["at_70_percent"].get("server_cpu_ms_per_event")
    cpu_ratio = round(b_cpu / o_cpu, 3) if o_cpu and b_cpu else None
    lines.append(
        f"| server CPU ms per event at 70 % | {o_cpu} | {b_cpu} | {cpu_ratio} (base/ours) | |"
    )
    lines.append("")
    lines.append(
        "| server | offered/s | accepted/s | p50 ms | p99 ms | timeouts | errors | saturated |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for kind in ("ours", "baseline"):
        result = report["results"][kind]
        for step in [*result["ramp"], result["at_70_percent_warm_up"], result["at_70_percent"]]:
            lines.append(
                f"| {kind} | {step['offered_per_s']} | {step['accepted_per_s']} | "
                f"{step['latency_ms_p50']} | {step['latency_ms_p99']} | {step['timeouts']} | "
                f"{step['errors'] + step['rejected']} | {step['saturated']} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rates",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[50.0, 100.0, 200.0, 400.0, 800.0, 1600.0],
        help="offered events/s per ramp step, rising (default 50,100,200,400,800,1600)",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=6400.0,
        help="if the last rate is not saturated, keep doubling up to this (default 6400)",
    )
    parser.add_argument("--step-seconds", type=float, default=5.0, help="per ramp step")
    parser.add_argument("--steady-seconds", type=float, default=8.0, help="at 70 %% of saturation")
    parser.add_argument(
        "--steady-warmup",
        type=float,
        default=2.0,
        help="seconds at 70 %% of saturation before the measured step, reported apart",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the first rate")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between steps")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, from send time")
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="LOG_LEVEL of our server (default WARNING; INFO adds two JSON lines per event)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and driver")
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
    pinned = (usable[0], usable[1]) if len(usable) > 1 and not args.no_pin else (None, None)
    started = time.monotonic()
    with postgres_server() as admin_url, tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        info = machine(admin_url)
        print(f"machine: {json.dumps(info)}")
        print(f"server pinned to cpu {pinned[0]}, driver to cpu {pinned[1]}; PostgreSQL unpinned")
        results = {}
        for kind in ("ours", "baseline"):
            with fresh_database(admin_url, f"qbs_bench_intake_{kind}") as db_url:
                results[kind] = measure(kind, args, db_url, pinned, tmp)
            print(
                f"{kind}: saturation {results[kind]['saturation_accepted_per_s']} accepted/s, "
                f"at 70 %: p99 {results[kind]['at_70_percent']['latency_ms_p99']} ms",
                flush=True,
            )
    ours, base = results["ours"], results["baseline"]
    ratio = round(
        ours["saturation_accepted_per_s"] / max(base["saturation_accepted_per_s"], 1e-9), 3
    )
    p99 = ours["at_70_percent"]["latency_ms_p99"]
    ours_cpu = ours["at_70_percent"].get("server_cpu_ms_per_event")
    base_cpu = base["at_70_percent"].get("server_cpu_ms_per_event")
    report = {
        "benchmark": "intake",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load_average": list(os.getloadavg()),
        "settings": {
            "rates": args.rates,
            "max_rate": args.max_rate,
            "step_seconds": args.step_seconds,
            "steady_seconds": args.steady_seconds,
            "warmup_s": args.warmup,
            "steady_warmup_s": args.steady_warmup,
            "timeout_s": args.timeout,
            "max_connections": args.max_connections,
            "server_cpu": pinned[0],
            "driver_cpu": pinned[1],
            "event": "signed invoice.sent, unique ids, ~700 bytes",
            "log_level": args.log_level,
        },
        "results": results,
        "ratio_accepted_per_s": ratio,
        "ratio_server_cpu_per_event": (
            round(base_cpu / ours_cpu, 3) if base_cpu and ours_cpu else None
        ),
        "p99_ms_at_70_percent": p99,
        "meets_targets": {
            "ratio_ge_0.8": ratio >= 0.8,
            "p99_lt_50ms": p99 is not None and p99 < 50,
        },
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    print(table(report))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"intake-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)} in {report['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
