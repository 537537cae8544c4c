"""QBO webhook flood: answer time of a 5,000-change Intuit delivery next to a 1-change one.

Run: uv run python bench/webhook_flood.py [--changes 5000] [--rounds 10]

`python -m app.cli serve --no-worker` runs in a subprocess on a fresh database (DATABASE_URL's
server when set, else an embedded PostgreSQL in a temporary directory). One keep-alive client
sends signed legacy `eventNotifications` deliveries, one at a time, each with fresh entity ids:
first `--rounds` deliveries of one change (the baseline: the fixed cost of a delivery), then
`--rounds` deliveries of `--changes` changes (about 100 bytes each, as Intuit sends them). No
worker runs, so the figure is the intake alone: parse, store every change and queue its work.
Reports p50 and max of each, the stored changes and the queued jobs, on stdout and in
bench/results/webhook_flood-<utc>.json (gitignored). Target: the large delivery answers in
< 1 s (Intuit gives 3 s).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db.session import libpq_url  # noqa: E402
from bench.harness import free_port, fresh_database, postgres_server, wait_listening  # noqa: E402

RESULTS = ROOT / "bench" / "results"
VERIFIER = "bench-verifier-token-0123456789abcdef"
REALM = "9130350000000001"


def delivery(first_id: int, count: int) -> bytes:
    """A legacy Intuit delivery of `count` Customer updates with ids from `first_id`."""
    entities = [
        {
            "name": "Customer",
            "id": str(first_id + n),
            "operation": "Update",
            "lastUpdated": "2026-12-04T10:00:00.000Z",
        }
        for n in range(count)
    ]
    notification = {"realmId": REALM, "dataChangeEvent": {"entities": entities}}
    return json.dumps({"eventNotifications": [notification]}).encode()


def signature(body: bytes) -> str:
    digest = hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@contextmanager
def service(db_url: str, port: int, tmp: Path) -> Iterator[None]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBS_", "CRM_", "QBO_"))}
    env |= {
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "WARNING",
        "CRM_SIGNING_SECRET": "bench-signing-secret",
        "CRM_API_KEY": "bench-api-key",
        "QBO_WEBHOOK_VERIFIER_TOKEN": VERIFIER,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "QBS_AUTO_MIGRATE": "true",
        "QBS_DATA_DIR": str(tmp / "data"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    argv = [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)]
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            wait_listening(port, proc, "serve", 60)
            yield
        except BaseException:
            sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def timed_deliveries(port: int, count: int, rounds: int, first_id: int) -> list[float]:
    import httpx

    seconds: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for n in range(rounds + 1):
            body = delivery(first_id + n * count, count)
            headers = {"intuit-signature": signature(body), "Content-Type": "application/json"}
            started = time.perf_counter()
            response = http.post("/v1/qbo/webhooks", content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or response.json().get("accepted") != count:
                raise RuntimeError(f"delivery refused: {response.status_code} {response.text}")
            if n:  # the first delivery warms connections and caches up
                seconds.append(elapsed)
    return seconds


def summary(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(seconds) * 1000, "max_ms": max(seconds) * 1000}


def stored(db_url: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(libpq_url(db_url)) as conn:
        changes = conn.execute("SELECT count(*) FROM qbo_changes").fetchone()
        jobs = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()
    return (int(changes[0]) if changes else 0, int(jobs[0]) if jobs else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="qbs-flood-") as tmp_name,
        postgres_server() as admin_url,
        fresh_database(admin_url, "qbs_flood") as db_url,
    ):
        port = free_port()
        with service(db_url, port, Path(tmp_name)):
            baseline = timed_deliveries(port, 1, args.rounds, first_id=1)
            flood = timed_deliveries(port, args.changes, args.rounds, first_id=1_000_000)
        changes, jobs = stored(db_url)
    body_kb = len(delivery(1_000_000, args.changes)) / 1024
    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "changes_per_delivery": args.changes,
        "delivery_kb": round(body_kb, 1),
        "rounds": args.rounds,
        "baseline_1_change": summary(baseline),
        "flood": summary(flood),
        "stored_changes": changes,
        "queued_jobs": jobs,
    }
    print(f"| delivery | p50 ms | max ms |  ({args.rounds} rounds each, after one warm-up)")
    print("|---|---|---|")
    for name, key in (("1 change (baseline)", "baseline_1_change"), ("flood", "flood")):
        row = result[key]
        label = name if key != "flood" else f"{args.changes} changes ({body_kb:.0f} KB)"
        print(f"| {label} | {row['p50_ms']:.0f} | {row['max_ms']:.0f} |")
    print(f"stored changes: {changes}, queued jobs: {jobs}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"webhook_flood-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
